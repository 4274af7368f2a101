package jobs

import (
	"context"
	"time"
)

// SlotStore records scheduled slots (a rule set and a planned time) so
// that each slot runs once across every replica of serve, and a slot
// that no replica ran is recorded as missed, not lost.
//
// A replica claims a slot with a lease that it renews while the slot's
// run lasts. A claim whose lease has ended (its replica died, or
// released it on shutdown) may be taken over by any replica. Every time
// is the caller's clock, passed in: stores never read their own.
type SlotStore interface {
	// ClaimSlot takes the slot for lease.Owner until lease.Until: it
	// records a slot not recorded yet, or takes over a claim whose lease
	// ended at or before lease.Now (Claim.From names its owner). A lapsed
	// claim whose run did finish (its replica died before recording it)
	// is settled with that run instead (Claim.Settled). Any other
	// recorded slot is not won.
	ClaimSlot(ctx context.Context, ruleset string, slot time.Time, lease Lease) (Claim, error)
	// RenewSlot extends owner's claim of the slot to until. It returns
	// false when owner no longer holds the claim: another replica took it
	// over, or the slot was finished.
	RenewSlot(ctx context.Context, ruleset string, slot time.Time, owner string, until time.Time) (bool, error)
	// FinishSlot records the outcome of a run of the slot.
	FinishSlot(ctx context.Context, ruleset string, slot time.Time, status Status, runID int64) error
	// ReleaseSlot ends owner's claim at now, its run cancelled by
	// shutdown, so that another replica or the next start runs it.
	ReleaseSlot(ctx context.Context, ruleset string, slot time.Time, owner string, now time.Time) error
	// MarkMissed records slots that were not run and will not be: slots
	// not recorded yet, and claims whose lease ended at or before now
	// (but a lapsed claim whose run finished is settled with that run).
	// Each newly missed slot gets a 'missed' run record; it returns how
	// many there were.
	MarkMissed(ctx context.Context, ruleset string, slots []time.Time, now time.Time) (int, error)
	// LastSlot returns the latest recorded slot of the rule set, claimed
	// or finished.
	LastSlot(ctx context.Context, ruleset string) (time.Time, bool, error)
	// OpenSlots returns the rule set's claimed slots that are not
	// finished, oldest first.
	OpenSlots(ctx context.Context, ruleset string) ([]OpenSlot, error)
}

// Lease is a claim's holder and term, on the claimant's clock.
type Lease struct {
	Owner string
	// Now is the claimant's time: a lease that ends at or before it has
	// lapsed.
	Now time.Time
	// Until is when the new claim's lease ends unless renewed.
	Until time.Time
}

// Claim is what ClaimSlot did.
type Claim struct {
	// Won is true when the slot is now the claimant's to run.
	Won bool
	// From is the owner of the lapsed claim that was taken over; empty
	// for a slot claimed first.
	From string
	// Settled is the status of the slot's finished run when ClaimSlot
	// found a lapsed claim whose run had finished and recorded it; empty
	// otherwise.
	Settled Status
}

// OpenSlot is a claimed slot whose run has not finished.
type OpenSlot struct {
	Slot       time.Time
	Owner      string
	LeaseUntil time.Time
}

// Lapsed reports whether the claim's lease has ended at now.
func (o OpenSlot) Lapsed(now time.Time) bool { return !o.LeaseUntil.After(now) }

// slotPlan is what a rule set's scheduler does next.
type slotPlan struct {
	// missed are slots more than the starting deadline late that no
	// replica holds: they are recorded as missed.
	missed []time.Time
	// next is the earliest slot to run now (zero: none). It is a slot not
	// recorded yet or a lapsed claim to take over.
	next time.Time
	// waitFor is the lease end of a live claim on a slot before next:
	// that run (on another replica) goes first; zero when there is none.
	waitFor time.Time
}

// planSlots decides from the recorded state what is due at now: every
// slot after the last recorded one, and every lapsed claim, runs once,
// oldest first, if it can start at most deadline after its time; older
// ones are missed. With no recorded slot, only the latest slot within
// the deadline is due: nothing is backfilled from before the rule set
// was first scheduled. A slot waits while an earlier one is held by a
// live claim, so that runs of a rule set keep slot order.
func planSlots(sched Schedule, now time.Time, deadline time.Duration, last time.Time, found bool, open []OpenSlot) slotPlan {
	var due []time.Time
	var live []OpenSlot
	for _, o := range open {
		if o.Lapsed(now) {
			due = append(due, o.Slot)
		} else {
			live = append(live, o)
		}
	}
	switch {
	case !found:
		if slot, ok := SlotAtOrBefore(sched, now, deadline); ok {
			due = append(due, slot)
		}
	default:
		for t, n := sched.Next(last), 0; !t.IsZero() && !t.After(now) && n < maxCatchUp; t, n = sched.Next(t), n+1 {
			due = append(due, t)
		}
	}
	var p slotPlan
	for _, t := range due {
		switch {
		case now.Sub(t) > deadline:
			p.missed = append(p.missed, t)
		case p.next.IsZero():
			p.next = t
		}
	}
	if p.next.IsZero() {
		return p
	}
	for _, o := range live {
		if o.Slot.Before(p.next) {
			p.waitFor = o.LeaseUntil
			break
		}
	}
	return p
}
