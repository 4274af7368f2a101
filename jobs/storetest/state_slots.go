package storetest

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

var stateSlotCases = []stateCase{
	{"slots: claimed once across claimers, leased, renewed, released, taken over, missed", testStateSlots},
	{"scheduler runs a due slot once and records the missed ones", testStateScheduler},
	{"lease: a killed replica's claim is taken over once it lapses, within the deadline", testStateLeaseTakeover},
	{"lease: a lapsed claim past the deadline is missed, logged and counted", testStateLeaseMissed},
	{"lease: a claim whose run finished before it was recorded is settled, not run again", testStateLeaseSettles},
	{"lease: the running replica renews it; one that lost it cancels its run", testStateLeaseRenewed},
	{"shutdown: the run is cancelled and its slot runs again, not missed", testStateShutdownRetried},
	{"wait: a slot due while another replica runs the previous one waits for it", testStateWaitsForPreviousRun},
	{"wait: a slot due while this replica runs the previous one runs after it", testStateWaitsInProcess},
	{"wait: a slot waits for the lock of a run by hand, and is missed past the deadline", testStateWaitsForLock},
}

// lastSlot returns the latest recorded slot of the rule set, failing if
// there is none.
func (e *stateEnv) lastSlot(ruleset string) time.Time {
	e.t.Helper()
	last, found, err := e.s.LastSlot(context.Background(), ruleset)
	if err != nil || !found {
		e.t.Fatalf("LastSlot(%s): found=%v, %v", ruleset, found, err)
	}
	return last
}

// openSlots returns the rule set's claimed, unfinished slots.
func (e *stateEnv) openSlots(ruleset string) []jobs.OpenSlot {
	e.t.Helper()
	open, err := e.s.OpenSlots(context.Background(), ruleset)
	if err != nil {
		e.t.Fatal(err)
	}
	return open
}

// leaseAt is a claim by owner at now, with a lease of a minute.
func leaseAt(owner string, now time.Time) jobs.Lease {
	return jobs.Lease{Owner: owner, Now: now, Until: now.Add(time.Minute)}
}

// A slot is claimed by exactly one of the claimers racing for it and is
// then the latest; its owner renews it, nobody else can; a finished slot
// can be neither released nor claimed; a claim is taken over exactly
// when its lease has ended (at its end, or once released); missed slots
// are recorded once each, with a 'missed' run record, and never
// overwrite a slot run or held, but do a lapsed claim.
func testStateSlots(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 0)
	if _, found, err := e.s.LastSlot(ctx, retailName); err != nil || found {
		t.Fatalf("LastSlot with no slots: found=%v, %v", found, err)
	}
	slot, now := asOf.Add(time.Hour), asOf.Add(time.Hour+time.Second)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i, s := range []StateStore{e.s, e.another(), e.another(), e.s} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				c, err := s.ClaimSlot(ctx, retailName, slot, leaseAt("replica-"+string(rune('a'+i)), now))
				if err != nil {
					t.Errorf("claim: %v", err)
				}
				if c.Won {
					wins.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d claims of one slot won, want 1", wins.Load())
	}
	claim := func(ruleset string, at time.Time, l jobs.Lease, want jobs.Claim) {
		t.Helper()
		if c, err := e.s.ClaimSlot(ctx, ruleset, at, l); err != nil || c != want {
			t.Fatalf("claim %s of %s by %s at %s: %+v, %v; want %+v", at, ruleset, l.Owner, l.Now, c, err, want)
		}
	}
	claim(copyName, slot, leaseAt("x", now), jobs.Claim{Won: true}) // the same time for another rule set
	if last := e.lastSlot(retailName); !last.Equal(slot) {
		t.Fatalf("LastSlot = %s, want %s", last, slot)
	}
	open := e.openSlots(retailName)
	if len(open) != 1 || !open[0].Slot.Equal(slot) || !open[0].LeaseUntil.Equal(now.Add(time.Minute)) {
		t.Fatalf("open slots %+v, want %s leased until %s", open, slot, now.Add(time.Minute))
	}
	holder := open[0].Owner
	renew := func(at time.Time, owner string, until time.Time, want bool) {
		t.Helper()
		if ok, err := e.s.RenewSlot(ctx, retailName, at, owner, until); err != nil || ok != want {
			t.Fatalf("renew %s by %s: %v, %v; want %v", at, owner, ok, err, want)
		}
	}
	renew(slot, "someone-else", now.Add(time.Hour), false)
	renew(slot, holder, now.Add(2*time.Minute), true)
	claim(retailName, slot, leaseAt("y", now.Add(90*time.Second)), jobs.Claim{}) // renewed: not lapsed
	if err := e.s.FinishSlot(ctx, retailName, slot, jobs.StatusSucceeded, 7); err != nil {
		t.Fatal(err)
	}
	renew(slot, holder, now.Add(time.Hour), false)
	if err := e.s.ReleaseSlot(ctx, retailName, slot, holder, now); err != nil {
		t.Fatal(err)
	}
	claim(retailName, slot, leaseAt("y", now.Add(24*time.Hour)), jobs.Claim{}) // a finished slot is never claimed
	if open := e.openSlots(retailName); len(open) != 0 {
		t.Fatalf("open slots after finishing: %+v", open)
	}

	later := slot.Add(time.Hour)
	t0 := later.Add(time.Second)
	claim(retailName, later, leaseAt("a", t0), jobs.Claim{Won: true})
	claim(retailName, later, leaseAt("b", t0.Add(time.Minute-time.Microsecond)), jobs.Claim{})
	claim(retailName, later, leaseAt("b", t0.Add(time.Minute)), jobs.Claim{Won: true, From: "a"}) // lapsed at its end
	renew(later, "a", t0.Add(time.Hour), false)                                                   // a lost it
	t1 := t0.Add(time.Minute)
	if err := e.s.ReleaseSlot(ctx, retailName, later, "a", t1); err != nil {
		t.Fatal(err)
	}
	claim(retailName, later, leaseAt("c", t1.Add(time.Second)), jobs.Claim{}) // only its owner releases a claim
	if err := e.s.ReleaseSlot(ctx, retailName, later, "b", t1.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if last := e.lastSlot(retailName); !last.Equal(later) {
		t.Fatalf("after releasing %s the last slot is %s, want it still", later, last)
	}
	lapsing := later.Add(time.Hour)
	end := lapsing.Add(time.Minute) // d's lease ends, c's does not
	claim(retailName, later, jobs.Lease{Owner: "c", Now: t1.Add(time.Second), Until: end.Add(time.Hour)},
		jobs.Claim{Won: true, From: "b"}) // a released slot is free

	claim(retailName, lapsing, leaseAt("d", lapsing), jobs.Claim{Won: true})
	missed := []time.Time{slot, later, lapsing, later.Add(2 * time.Hour), later.Add(3 * time.Hour)}
	for i := range 2 {
		n, err := e.s.MarkMissed(ctx, retailName, missed, end)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{3, 0}[i]; n != want {
			t.Fatalf("MarkMissed call %d recorded %d slots, want %d (not the run one nor c's live claim)", i+1, n, want)
		}
	}
	runs := e.runs(retailName)
	if len(runs) != 3 {
		t.Fatalf("missed slots left %d run records, want 3: %+v", len(runs), runs)
	}
	checkMissed(t, runs, missed[2:])
	claim(retailName, missed[4], leaseAt("x", end.Add(24*time.Hour)), jobs.Claim{}) // a missed slot is recorded
	if open := e.openSlots(retailName); len(open) != 1 || !open[0].Slot.Equal(later) || open[0].Owner != "c" {
		t.Fatalf("open slots %+v, want only c's claim of %s", open, later)
	}
	if last := e.lastSlot(retailName); !last.Equal(missed[4]) {
		t.Fatalf("LastSlot = %s after missed slots, want %s", last, missed[4])
	}
	if last := e.lastSlot(copyName); !last.Equal(slot) {
		t.Fatalf("LastSlot of %s = %s, want %s", copyName, last, slot)
	}
}

// checkMissed checks that the runs are the 'missed' records of slots.
func checkMissed(t *testing.T, runs []kernel.Run, slots []time.Time) {
	t.Helper()
	var got []time.Time
	for _, r := range runs {
		if r.Status != "missed" || r.Kind != "scheduled" || r.Slot == nil || !r.Slot.Equal(r.AsOf) || r.Error == nil || r.Finished == nil {
			t.Fatalf("run record of a missed slot: %+v", r)
		}
		got = append(got, r.AsOf)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Before(got[j]) })
	if len(got) != len(slots) {
		t.Fatalf("missed runs for %v, want %v", got, slots)
	}
	for i := range got {
		if !got[i].Equal(slots[i]) {
			t.Fatalf("missed runs for %v, want %v", got, slots)
		}
	}
}

func newStateScheduler(t *testing.T, s StateStore, facts jobs.FactsSource, rs *rules.RuleSet, owner string, now time.Time, deadline time.Duration) *jobs.Scheduler {
	t.Helper()
	sch := &jobs.Scheduler{
		State: s, Facts: facts, Slots: s, Owner: owner, StartingDeadline: deadline,
		Now:    func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if err := sch.Set(rs, jobs.Options{Guard: jobs.DefaultGuard, Workers: 2, BatchSize: 100}); err != nil {
		t.Fatal(err)
	}
	return sch
}

// Two replicas tick at once on an hourly schedule: the due slot runs
// once, at the slot's time, and the loser records a skipped run; a tick
// again runs nothing more. A replica starting three hours later records
// the two slots it missed and runs the latest, still within its
// starting deadline.
func testStateScheduler(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 300)
	rs := scheduled(t)
	now := asOf.Add(time.Minute) // the 00:00 slot is due
	a := newStateScheduler(t, e.s, e.f, rs, "replica-a", now, time.Hour)
	b := newStateScheduler(t, e.another(), e.f, rs, "replica-b", now, time.Hour)
	var wg sync.WaitGroup
	for _, sch := range []*jobs.Scheduler{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sch.Tick(context.Background(), rs.Name)
		}()
	}
	wg.Wait()
	if got := e.runStatuses(); got["succeeded"] != 1 || got["skipped"] != 1 || len(got) != 2 {
		t.Fatalf("run statuses %v, want one succeeded and one skipped", got)
	}
	var ran int64
	for _, r := range e.runs(rs.Name) {
		if r.Kind != "scheduled" || !r.AsOf.Equal(asOf) || r.Slot == nil || !r.Slot.Equal(asOf) {
			t.Fatalf("scheduled run %+v: want kind scheduled, as-of and slot %s", r, asOf)
		}
		if r.Status == "succeeded" {
			ran = r.ID
			if r.Customers != 300 || r.Changed != 300 {
				t.Fatalf("the scheduled first run: %+v, want 300 customers assigned", r)
			}
		}
	}
	if h := e.history(rs.Name, "1"); len(h) != len(rs.Segmentations) || h[0].RunID != ran || !h[0].AsOf.Equal(asOf) {
		t.Fatalf("history of customer 1 after the scheduled run: %+v, want its first assignments by run %d", h, ran)
	}
	if last := e.lastSlot(rs.Name); !last.Equal(asOf) {
		t.Fatalf("LastSlot = %s, want %s", last, asOf)
	}
	a.Tick(context.Background(), rs.Name)
	if got := e.runStatuses(); got["succeeded"] != 1 {
		t.Fatalf("a second tick at the same time: run statuses %v, want still one succeeded", got)
	}

	late := asOf.Add(3*time.Hour + 10*time.Minute) // 01:00 and 02:00 missed, 03:00 is 10 minutes late
	newStateScheduler(t, e.s, e.f, rs, "replica-c", late, 30*time.Minute).Tick(context.Background(), rs.Name)
	if got := e.runStatuses(); got["succeeded"] != 2 || got["missed"] != 2 {
		t.Fatalf("after a late start: run statuses %v, want two succeeded and two missed", got)
	}
	var missed []kernel.Run
	var third bool
	for _, r := range e.runs(rs.Name) {
		switch {
		case r.Status == "missed":
			missed = append(missed, r)
		case r.Status == "succeeded" && r.AsOf.Equal(asOf.Add(3*time.Hour)):
			third = r.Slot != nil && r.Slot.Equal(r.AsOf)
		}
	}
	checkMissed(t, missed, []time.Time{asOf.Add(time.Hour), asOf.Add(2 * time.Hour)})
	if !third {
		t.Fatalf("no succeeded run of the 03:00 slot: %+v", e.runs(rs.Name))
	}
	if last := e.lastSlot(rs.Name); !last.Equal(asOf.Add(3 * time.Hour)) {
		t.Fatalf("LastSlot = %s, want 03:00", last)
	}
}
