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
	{"slots: claimed once across claimers, finished, released, missed", testStateSlots},
	{"scheduler runs a due slot once and records the missed ones", testStateScheduler},
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

// A slot is claimed by exactly one of the claimers racing for it and is
// then the latest; a finished slot cannot be released, a claimed one
// can, and is then free; missed slots are recorded once each, with a
// 'missed' run record, and never overwrite a slot already recorded.
func testStateSlots(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 0)
	if _, found, err := e.s.LastSlot(ctx, retailName); err != nil || found {
		t.Fatalf("LastSlot with no slots: found=%v, %v", found, err)
	}
	slot := asOf.Add(time.Hour)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i, s := range []StateStore{e.s, e.another(), e.another(), e.s} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				ok, err := s.ClaimSlot(ctx, retailName, slot, "replica-"+string(rune('a'+i)))
				if err != nil {
					t.Errorf("claim: %v", err)
				}
				if ok {
					wins.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d claims of one slot won, want 1", wins.Load())
	}
	claim := func(ruleset string, at time.Time, want bool) {
		t.Helper()
		if ok, err := e.s.ClaimSlot(ctx, ruleset, at, "x"); err != nil || ok != want {
			t.Fatalf("claim %s of %s: %v, %v; want %v", at, ruleset, ok, err, want)
		}
	}
	claim(copyName, slot, true) // the same time for another rule set
	if last := e.lastSlot(retailName); !last.Equal(slot) {
		t.Fatalf("LastSlot = %s, want %s", last, slot)
	}

	if err := e.s.FinishSlot(ctx, retailName, slot, jobs.StatusSucceeded, 7); err != nil {
		t.Fatal(err)
	}
	if err := e.s.ReleaseSlot(ctx, retailName, slot); err != nil {
		t.Fatal(err)
	}
	claim(retailName, slot, false) // a finished slot is not released
	later := slot.Add(time.Hour)
	claim(retailName, later, true)
	if err := e.s.ReleaseSlot(ctx, retailName, later); err != nil {
		t.Fatal(err)
	}
	if last := e.lastSlot(retailName); !last.Equal(slot) {
		t.Fatalf("after releasing %s the last slot is %s, want %s", later, last, slot)
	}
	claim(retailName, later, true) // a released slot is free again

	missed := []time.Time{slot, later.Add(time.Hour), later.Add(2 * time.Hour)}
	for range 2 {
		if err := e.s.MarkMissed(ctx, retailName, missed); err != nil {
			t.Fatal(err)
		}
	}
	runs := e.runs(retailName)
	if len(runs) != 2 {
		t.Fatalf("missed slots left %d run records, want 2 (one of the three was run): %+v", len(runs), runs)
	}
	checkMissed(t, runs, missed[1:])
	claim(retailName, missed[2], false) // a missed slot is recorded
	if last := e.lastSlot(retailName); !last.Equal(missed[2]) {
		t.Fatalf("LastSlot = %s after missed slots, want %s", last, missed[2])
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
