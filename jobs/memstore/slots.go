package memstore

import (
	"context"
	"sort"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// slotKey is a rule set and a slot time, to the microsecond.
type slotKey struct {
	ruleset string
	at      int64 // Unix microseconds
}

func keyOf(ruleset string, t time.Time) slotKey { return slotKey{ruleset, stamp(t).UnixMicro()} }

// slot is one recorded slot.
type slot struct {
	at         time.Time
	status     string // claimed, missed, or the outcome of its run
	owner      string
	leaseUntil time.Time
	runID      int64
}

// missedError is the error of a missed slot's run record.
const missedError = "no replica ran this slot within the starting deadline"

// ClaimSlot records the slot as claimed by lease.Owner, or takes over a
// claim whose lease ended at or before lease.Now (settling it with its
// run instead when that run finished); otherwise the slot is not won.
func (s *Store) ClaimSlot(ctx context.Context, ruleset string, at time.Time, lease jobs.Lease) (jobs.Claim, error) {
	if err := ctx.Err(); err != nil {
		return jobs.Claim{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := keyOf(ruleset, at)
	sl := s.slots[k]
	switch {
	case sl == nil:
		s.slots[k] = &slot{at: stamp(at), status: "claimed", owner: lease.Owner, leaseUntil: stamp(lease.Until)}
		return jobs.Claim{Won: true}, nil
	case !sl.lapsed(stamp(lease.Now)):
		return jobs.Claim{}, nil
	}
	if st := s.settleLocked(ruleset, sl); st != "" {
		return jobs.Claim{Settled: st}, nil
	}
	from := sl.owner
	sl.owner, sl.leaseUntil = lease.Owner, stamp(lease.Until)
	return jobs.Claim{Won: true, From: from}, nil
}

// lapsed reports whether the slot is a claim whose lease ended by now.
func (sl *slot) lapsed(now time.Time) bool {
	return sl.status == "claimed" && !sl.leaseUntil.After(now)
}

// settleLocked records a lapsed claim as the outcome of the slot's last
// finished run, if there is one, and returns its status.
func (s *Store) settleLocked(ruleset string, sl *slot) jobs.Status {
	for i := len(s.runs) - 1; i >= 0; i-- {
		r := &s.runs[i]
		if r.RuleSet != ruleset || r.Slot == nil || !r.Slot.Equal(sl.at) {
			continue
		}
		switch jobs.Status(r.Status) {
		case jobs.StatusSucceeded, jobs.StatusBlocked, jobs.StatusFailed:
			sl.status, sl.runID = r.Status, r.ID
			return jobs.Status(r.Status)
		}
	}
	return ""
}

// RenewSlot extends owner's claim of the slot to until.
func (s *Store) RenewSlot(ctx context.Context, ruleset string, at time.Time, owner string, until time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.slots[keyOf(ruleset, at)]
	if sl == nil || sl.status != "claimed" || sl.owner != owner {
		return false, nil
	}
	sl.leaseUntil = stamp(until)
	return true, nil
}

// FinishSlot records a slot's outcome and run.
func (s *Store) FinishSlot(ctx context.Context, ruleset string, at time.Time, status jobs.Status, runID int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl := s.slots[keyOf(ruleset, at)]; sl != nil {
		sl.status, sl.runID = string(status), runID
	}
	return nil
}

// ReleaseSlot ends owner's claim of the slot at now.
func (s *Store) ReleaseSlot(ctx context.Context, ruleset string, at time.Time, owner string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl := s.slots[keyOf(ruleset, at)]; sl != nil && sl.status == "claimed" && sl.owner == owner {
		sl.leaseUntil = stamp(now)
	}
	return nil
}

// MarkMissed records as missed each slot not recorded yet and each
// lapsed claim whose run did not finish, with a 'missed' run record so
// that the run list shows it.
func (s *Store) MarkMissed(ctx context.Context, ruleset string, slots []time.Time, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	when := stamp(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, at := range slots {
		k := keyOf(ruleset, at)
		switch sl := s.slots[k]; {
		case sl == nil:
			s.slots[k] = &slot{at: stamp(at), status: "missed", leaseUntil: when}
		case !sl.lapsed(when) || s.settleLocked(ruleset, sl) != "":
			continue // run, held, or recorded by another replica
		default:
			sl.status = "missed"
		}
		msg, finished, t := missedError, when, stamp(at)
		s.addRunLocked(kernel.Run{RuleSet: ruleset, Kind: "scheduled", AsOf: t, Slot: &t,
			Status: "missed", Started: when, Finished: &finished, Error: &msg})
		n++
	}
	return n, nil
}

// LastSlot returns the latest recorded slot of the rule set.
func (s *Store) LastSlot(ctx context.Context, ruleset string) (time.Time, bool, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var last time.Time
	found := false
	for k, sl := range s.slots {
		if k.ruleset == ruleset && (!found || sl.at.After(last)) {
			last, found = sl.at, true
		}
	}
	return last, found, nil
}

// OpenSlots returns the rule set's claimed, unfinished slots, oldest
// first.
func (s *Store) OpenSlots(ctx context.Context, ruleset string) ([]jobs.OpenSlot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []jobs.OpenSlot
	for k, sl := range s.slots {
		if k.ruleset == ruleset && sl.status == "claimed" {
			out = append(out, jobs.OpenSlot{Slot: sl.at, Owner: sl.owner, LeaseUntil: sl.leaseUntil})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slot.Before(out[j].Slot) })
	return out, nil
}
