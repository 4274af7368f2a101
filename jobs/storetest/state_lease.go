package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// A replica claims the 00:00 slot and is killed (SIGKILL) before its run
// commits: nothing renews its claim. While the lease lasts the slot is
// the dead replica's; once it lapses, the survivor takes the slot over
// and runs it, once, well within the starting deadline.
func testStateLeaseTakeover(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 200)
	rs := scheduled(t)
	if c, err := e.s.ClaimSlot(ctx, rs.Name, asOf, leaseAt("killed", asOf.Add(time.Second))); err != nil || !c.Won {
		t.Fatalf("claim: %+v, %v", c, err)
	}
	c := newClock(asOf.Add(30 * time.Second))
	b, log, _ := leaseScheduler(e, e.another(), nil, rs, "survivor", c, time.Hour)
	b.Tick(ctx, rs.Name)
	if n := e.slotRuns(rs.Name)[asOf]["succeeded"]; n != 0 {
		t.Fatalf("the slot ran while its claim's lease was live")
	}
	c.Set(asOf.Add(time.Minute + 2*time.Second)) // the lease ended at 00:01:01
	b.Tick(ctx, rs.Name)
	if runs := e.slotRuns(rs.Name)[asOf]; runs["succeeded"] != 1 {
		t.Fatalf("once the lease lapsed the survivor did not run the slot: runs %v\n%s", runs, log)
	}
	if open := e.openSlots(rs.Name); len(open) != 0 {
		t.Fatalf("the slot is still claimed: %+v", open)
	}
	if !strings.Contains(log.String(), "took over a slot whose claim lapsed") || !strings.Contains(log.String(), "previous_owner=killed") {
		t.Errorf("the takeover is not logged with the previous owner:\n%s", log)
	}
	b.Tick(ctx, rs.Name)
	if n := e.slotRuns(rs.Name)[asOf]["succeeded"]; n != 1 {
		t.Fatalf("the slot ran %d times", n)
	}
}

// The dead replica's claim is found only after the starting deadline:
// it is recorded as missed, with a run record, an ERROR log line and the
// missed-slots metric, as is the next slot; the latest one runs.
func testStateLeaseMissed(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 200)
	rs := scheduled(t)
	if c, err := e.s.ClaimSlot(ctx, rs.Name, asOf, leaseAt("killed", asOf.Add(time.Second))); err != nil || !c.Won {
		t.Fatalf("claim: %+v, %v", c, err)
	}
	c := newClock(asOf.Add(2*time.Hour + 30*time.Minute))
	b, log, obs := leaseScheduler(e, e.another(), nil, rs, "survivor", c, time.Hour)
	b.Tick(ctx, rs.Name)
	sr := e.slotRuns(rs.Name)
	if sr[asOf]["missed"] != 1 || sr[asOf.Add(time.Hour)]["missed"] != 1 || sr[asOf.Add(2*time.Hour)]["succeeded"] != 1 {
		t.Fatalf("runs by slot %v: want 00:00 (the dead claim) and 01:00 missed, 02:00 run\n%s", sr, log)
	}
	if obs.missed != 2 {
		t.Errorf("the metric counted %d missed slots, want 2", obs.missed)
	}
	if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "missed=2") {
		t.Errorf("no ERROR line for the missed slots:\n%s", log)
	}
	if open := e.openSlots(rs.Name); len(open) != 0 {
		t.Fatalf("the dead claim is still open: %+v", open)
	}
}

// A replica commits the 00:00 slot's run and is killed before it records
// the slot: the survivor that finds the lapsed claim records the run's
// outcome and does not run the slot again.
func testStateLeaseSettles(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 200)
	rs := scheduled(t)
	if c, err := e.s.ClaimSlot(ctx, rs.Name, asOf, leaseAt("killed", asOf.Add(time.Second))); err != nil || !c.Won {
		t.Fatalf("claim: %+v, %v", c, err)
	}
	o := Options()
	o.Slot = asOf
	if _, err := jobs.Apply(ctx, e.s, e.f, rs, o); err != nil {
		t.Fatal(err)
	}
	b, log, _ := leaseScheduler(e, e.another(), nil, rs, "survivor", newClock(asOf.Add(2*time.Minute)), time.Hour)
	b.Tick(ctx, rs.Name)
	if runs := e.slotRuns(rs.Name)[asOf]; runs["succeeded"] != 1 || len(runs) != 1 {
		t.Fatalf("runs of the slot %v, want the killed replica's one succeeded run only\n%s", runs, log)
	}
	if open := e.openSlots(rs.Name); len(open) != 0 {
		t.Fatalf("the slot is still claimed: %+v", open)
	}
}

// A replica renews its claim while its run lasts, well past the first
// lease, so that no other replica can take it. When another replica does
// take it over (a's lease has lapsed on its clock), a notices at its next
// renewal and cancels its run, recorded as cancelled; the new owner runs
// the slot once a's run has let go of the lock.
func testStateLeaseRenewed(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := testContext(t)
	e := newStateEnv(t, ns, 200)
	rs := scheduled(t)
	start := time.Now()
	since := func(offset time.Duration) func() time.Time {
		return func() time.Time { return asOf.Add(offset + time.Since(start)) }
	}
	const lease = 600 * time.Millisecond
	g := newGate(e.f)
	a := newStateScheduler(t, e.s, g, rs, "a", time.Time{}, time.Hour)
	a.Now, a.Lease = since(time.Second), lease
	var status jobs.Status
	var err error
	waitA := background(func() { status, err = a.RunSlot(ctx, rs.Name, asOf) })
	defer waitA()
	defer g.release()
	g.wait(t)
	time.Sleep(3 * lease)
	b := newStateScheduler(t, e.another(), e.f, rs, "b", time.Time{}, time.Hour)
	b.Now, b.Lease = since(time.Second), lease
	if st, err := b.RunSlot(ctx, rs.Name, asOf); st != jobs.StatusSkipped || err != nil {
		t.Fatalf("b ran a slot whose claim a renews: %s, %v", st, err)
	}
	c := newStateScheduler(t, e.another(), e.f, rs, "c", time.Time{}, 2*time.Hour)
	c.Now = since(time.Hour + time.Second)
	if st, err := c.RunSlot(ctx, rs.Name, asOf); st != jobs.StatusSucceeded || err != nil {
		t.Fatalf("c took over the lapsed claim: %s, %v; want it run", st, err)
	}
	waitA()
	if status != jobs.StatusCancelled || err == nil {
		t.Fatalf("a, whose claim was taken over, ended %s, %v; want cancelled", status, err)
	}
	if runs := e.slotRuns(rs.Name)[asOf]; runs["succeeded"] != 1 || runs["cancelled"] != 1 {
		t.Fatalf("runs of the slot %v, want a's cancelled and c's succeeded", runs)
	}
}

// SIGTERM cancels the 00:00 run: it is recorded as cancelled (not failed)
// and its slot released. The other replica, a minute later and well
// within the hour's deadline, runs the released slot and then its own:
// nothing is missed.
func testStateShutdownRetried(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 200)
	rs := everyMinute(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := newClock(asOf.Add(5 * time.Second))
	a, _, _ := leaseScheduler(e, e.s, cancelOnOpen{FactsSource: e.f, cancel: cancel}, rs, "a", ca, time.Hour)
	a.Tick(ctx, rs.Name)
	if runs := e.slotRuns(rs.Name)[asOf]; runs["cancelled"] != 1 || len(runs) != 1 {
		t.Fatalf("runs of the slot after shutdown: %v, want one cancelled", runs)
	}
	if open := e.openSlots(rs.Name); len(open) != 1 || !open[0].Lapsed(ca.Now()) || open[0].Owner != "a" {
		t.Fatalf("the cancelled slot should be released (a lapsed claim): %+v", open)
	}
	b, log, obs := leaseScheduler(e, e.another(), nil, rs, "b", newClock(asOf.Add(time.Minute+5*time.Second)), time.Hour)
	b.Tick(context.Background(), rs.Name)
	sr := e.slotRuns(rs.Name)
	if sr[asOf]["succeeded"] != 1 || sr[asOf.Add(time.Minute)]["succeeded"] != 1 || e.runStatuses()["missed"] != 0 || obs.missed != 0 {
		t.Fatalf("runs by slot %v: want the released 00:00 and 00:01 run, nothing missed\n%s", sr, log)
	}
}

// Replica a runs the 00:00 slot, and takes long. Replica b's 00:01 slot
// comes: it waits for a's run (a's claim is live) instead of losing the
// lock race and being skipped, then runs.
func testStateWaitsForPreviousRun(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := testContext(t)
	e := newStateEnv(t, ns, 200)
	rs := everyMinute(t)
	g := newGate(e.f)
	a, _, _ := leaseScheduler(e, e.s, g, rs, "a", newClock(asOf.Add(5*time.Second)), time.Hour)
	waitA := background(func() { a.Tick(ctx, rs.Name) })
	defer waitA()
	defer g.release()
	g.wait(t)
	// a's lease on 00:00 lasts until 00:01:05.
	b, log, _ := leaseScheduler(e, e.another(), nil, rs, "b", newClock(asOf.Add(time.Minute+2*time.Second)), time.Hour)
	b.Sleep = nil // real waits: b's clock stays put while a runs
	waitB := background(func() { b.Tick(ctx, rs.Name) })
	time.Sleep(400 * time.Millisecond)
	if runs := e.slotRuns(rs.Name)[asOf.Add(time.Minute)]; len(runs) != 0 {
		t.Fatalf("the 00:01 slot did not wait for the 00:00 run: %v\n%s", runs, log)
	}
	g.release()
	waitA()
	waitB()
	sr := e.slotRuns(rs.Name)
	if sr[asOf]["succeeded"] != 1 || sr[asOf.Add(time.Minute)]["succeeded"] != 1 || len(e.runStatuses()) != 1 {
		t.Fatalf("runs by slot %v (%v): want 00:00 and 00:01 succeeded, nothing skipped\n%s", sr, e.runStatuses(), log)
	}
	if !strings.Contains(log.String(), "this slot waits for it") {
		t.Errorf("the wait is not logged:\n%s", log)
	}
}

// This replica's 00:00 run takes long; cron's tick for 00:01 comes while
// it lasts. The tick is not dropped: 00:01 runs right after 00:00.
func testStateWaitsInProcess(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := testContext(t)
	e := newStateEnv(t, ns, 200)
	rs := everyMinute(t)
	g := newGate(e.f)
	c := newClock(asOf.Add(5 * time.Second))
	a, log, obs := leaseScheduler(e, e.s, g, rs, "a", c, time.Hour)
	waitA := background(func() { a.Tick(ctx, rs.Name) })
	defer waitA()
	defer g.release()
	g.wait(t)
	c.Set(asOf.Add(time.Minute + 3*time.Second))
	a.Tick(ctx, rs.Name) // cron's tick of 00:01
	g.release()
	waitA()
	sr := e.slotRuns(rs.Name)
	if sr[asOf]["succeeded"] != 1 || sr[asOf.Add(time.Minute)]["succeeded"] != 1 || len(e.runStatuses()) != 1 || obs.missed != 0 {
		t.Fatalf("runs by slot %v (%v): want 00:00 and 00:01 succeeded, nothing else\n%s", sr, e.runStatuses(), log)
	}
}

// A run by hand holds the rule set's lock when the 00:00 slot comes: the
// slot tries again until the lock is free, and runs. Later a run by hand
// holds the lock past the 01:00 slot's deadline: that slot is recorded as
// missed, not skipped.
func testStateWaitsForLock(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := testContext(t)
	e := newStateEnv(t, ns, 200)
	rs := scheduled(t)
	byHand := func(g *gate, at time.Time) (wait func()) {
		o := Options()
		o.AsOf = at
		return background(func() { _, _ = jobs.Apply(ctx, e.s, g, rs, o) })
	}
	g := newGate(e.f)
	waitHand := byHand(g, asOf.Add(-time.Hour))
	defer waitHand()
	defer g.release()
	g.wait(t)
	b, log, _ := leaseScheduler(e, e.another(), nil, rs, "b", newClock(asOf.Add(5*time.Second)), time.Hour)
	b.Sleep = nil
	waitB := background(func() { b.Tick(ctx, rs.Name) })
	time.Sleep(400 * time.Millisecond)
	g.release()
	waitHand()
	waitB()
	if runs := e.slotRuns(rs.Name)[asOf]; runs["succeeded"] != 1 {
		t.Fatalf("runs of the slot %v: want it run once the lock was free\n%s", runs, log)
	}

	g2 := newGate(e.f)
	waitHand2 := byHand(g2, asOf)
	defer waitHand2()
	defer g2.release()
	g2.wait(t)
	c := newClock(asOf.Add(time.Hour + 5*time.Second))
	c.step = time.Minute
	b2, log2, obs := leaseScheduler(e, e.another(), nil, rs, "b2", c, 10*time.Minute)
	b2.Tick(ctx, rs.Name)
	g2.release()
	waitHand2()
	if runs := e.slotRuns(rs.Name)[asOf.Add(time.Hour)]; runs["missed"] != 1 || runs["succeeded"] != 0 {
		t.Fatalf("runs of the 01:00 slot %v: want it missed once the lock stayed taken past its deadline\n%s", runs, log2)
	}
	if obs.missed != 1 || !strings.Contains(log2.String(), "level=ERROR") {
		t.Errorf("the missed slot is not counted (%d) or logged:\n%s", obs.missed, log2)
	}
}

// testContext ends a case that waits on other goroutines after a while,
// so that a scheduler that waits too long fails the case instead of
// hanging the suite.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
