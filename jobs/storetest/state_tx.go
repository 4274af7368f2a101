package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

var stateTxCases = []stateCase{
	{"a second apply of a locked rule set gets ErrLocked and is recorded skipped", testStateLocked},
	{"staged changes are invisible until commit and a rollback discards them", testStateRollback},
	{"an open state reader keeps its view across a commit", testStateReaderView},
	{"a dead running run is marked abandoned by the next apply", testStateAbandoned},
	{"a succeeded run's end is read from the clock after the writes", testStateFinishedAfterWrites},
}

// A run's recorded end comes from RunSummary.FinishedAt, called once the
// state is written, not from Finished, taken before: so that the run's
// duration includes its writes.
func testStateFinishedAfterWrites(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 200)
	rs := RetailRuleSet(t)
	evaluated := e.evaluate(rs, asOf)
	tx, id := e.beginAt(rs, asOf)
	stage(t, tx, evaluated)
	early, late := asOf.Add(time.Minute), asOf.Add(time.Hour)
	calls := 0
	sum := jobs.RunSummary{Status: jobs.StatusSucceeded, Finished: early, Customers: len(evaluated),
		FinishedAt: func() time.Time { calls++; return late }}
	if err := tx.Commit(ctx, sum); err != nil {
		t.Fatal(err)
	}
	runs, err := e.s.Runs(ctx, rs.Name, 1)
	if err != nil || len(runs) != 1 || runs[0].ID != id || runs[0].Finished == nil {
		t.Fatalf("runs: %+v, %v; want the run, finished", runs, err)
	}
	if got := *runs[0].Finished; !got.Equal(late) || calls != 1 {
		t.Fatalf("run finished %s after %d calls of FinishedAt; want %s, from one call (not Finished, %s)", got, calls, late, early)
	}
}

// Two applies of one rule set begun together: one takes the lock, the
// other gets ErrLocked at once. While the lock is held, another
// BeginApply gets ErrLocked, and jobs.Apply writes nothing and records a
// skipped run; a plan, and an apply of another rule set, go on. Once
// the lock is released, the apply runs.
func testStateLocked(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 500)
	rs := RetailRuleSet(t)
	info := jobs.RunInfo{RuleSet: rs.Name, RulesHash: rs.Hash, AsOf: asOf, Started: asOf}
	type begun struct {
		tx  jobs.ApplyTx
		err error
	}
	results := make(chan begun, 2)
	start := make(chan struct{})
	for _, s := range []StateStore{e.s, e.another()} {
		go func() {
			<-start
			tx, err := s.BeginApply(ctx, rs, info)
			results <- begun{tx, err}
		}()
	}
	close(start)
	var holder jobs.ApplyTx
	for range 2 {
		b := <-results
		switch {
		case b.err == nil && holder == nil:
			holder = b.tx
		case !errors.Is(b.err, jobs.ErrLocked):
			t.Fatalf("two applies begun together: %v; want one to take the lock and the other ErrLocked", b.err)
		}
	}
	if holder == nil {
		t.Fatal("neither of two applies begun together took the lock")
	}
	defer holder.Rollback()
	if _, err := e.s.BeginApply(ctx, rs, info); !errors.Is(err, jobs.ErrLocked) {
		t.Fatalf("BeginApply while the lock is held: %v, want ErrLocked", err)
	}

	before := e.view(rs, true)
	began := time.Now()
	out, err := jobs.Apply(ctx, e.s, e.f, rs, Options())
	if !errors.Is(err, jobs.ErrLocked) {
		t.Fatalf("apply while locked: %v, want ErrLocked", err)
	}
	if took := time.Since(began); took > lockedOutWithin {
		t.Fatalf("the locked-out apply returned after %v; want at once", took)
	}
	if out == nil || out.Report != nil {
		t.Fatalf("a locked-out apply: %+v; want a run and no report", out)
	}
	SameDigests(t, "state after a locked-out apply", e.view(rs, true), before)
	if r := e.runByID(out.RunID); r.Status != "skipped" || r.Error == nil || !strings.Contains(*r.Error, "another apply") || r.Finished == nil || r.Customers != 0 {
		t.Fatalf("run record of the locked-out apply: %+v; want skipped, saying why", r)
	}
	if p := e.planAt(rs, day(0), Options()); !p.Initial || p.Customers != 500 {
		t.Fatalf("plan while an apply holds the lock: initial=%v customers=%d", p.Initial, p.Customers)
	}
	if other := e.applyAt(renamed(t, copyName), day(0), Options()); other.Report.Customers != 500 {
		t.Fatalf("apply of another rule set while the lock is held: %d customers", other.Report.Customers)
	}

	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	if out := e.applyAt(rs, day(0), Options()); out.Report.Changed != 500 {
		t.Fatalf("apply after the lock was released changed %d customers, want 500", out.Report.Changed)
	}
	if got := e.runStatuses(); got["succeeded"] != 2 || got["skipped"] != 1 || len(got) != 2 {
		t.Fatalf("run statuses %v, want two succeeded and one skipped", got)
	}
}

// evaluate evaluates every customer of e's facts at the given time
// against the state in e's store, as an apply does before it stages.
func (e *stateEnv) evaluate(rs *rules.RuleSet, at time.Time) []jobs.Evaluated {
	e.t.Helper()
	ctx := context.Background()
	snap, err := jobs.OpenSnapshot(ctx, e.s, e.f, rs, jobs.At(at))
	if err != nil {
		e.t.Fatal(err)
	}
	defer snap.Close()
	eng := engine.New(rs)
	var out []jobs.Evaluated
	err = snap.Stream(ctx, 100, func(batch []engine.Customer) error {
		for i := range batch {
			res := new(engine.Result)
			eng.EvaluateInto(at, &batch[i], res)
			out = append(out, jobs.Evaluated{Customer: &batch[i], Result: res})
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// beginAt records a run and begins its apply at the given as-of.
func (e *stateEnv) beginAt(rs *rules.RuleSet, at time.Time) (jobs.ApplyTx, int64) {
	e.t.Helper()
	ctx := context.Background()
	info := jobs.RunInfo{RuleSet: rs.Name, RulesHash: rs.Hash, AsOf: at, Started: at}
	id, err := e.s.StartRun(ctx, info, "apply")
	if err != nil {
		e.t.Fatal(err)
	}
	info.ID = id
	tx, err := e.s.BeginApply(ctx, rs, info)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx, id
}

// stage stages evaluated customers in batches of 100.
func stage(t *testing.T, tx jobs.ApplyTx, evaluated []jobs.Evaluated) {
	t.Helper()
	for from := 0; from < len(evaluated); from += 100 {
		if err := tx.Stage(context.Background(), evaluated[from:min(from+100, len(evaluated))]); err != nil {
			t.Fatalf("stage: %v", err)
		}
	}
}

// Staged changes are seen by no reader, on this store or another, until
// Commit; Rollback discards them and releases the lock, and the plan is
// what it was. The same changes committed are what the plan said, and
// the run record holds the summary; Rollback after Commit is harmless.
func testStateRollback(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 500)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	e.applyAt(rs, day(0), o)
	e.f.shift()
	before := e.view(rs, true)
	plan := e.planAt(rs, day(1), o)
	if !plan.HasChanges() || plan.ActionsTotal == 0 {
		t.Fatalf("the shift should change customers and queue actions: changed %d, actions %d", plan.Changed, plan.ActionsTotal)
	}
	evaluated := e.evaluate(rs, day(1))

	tx, id := e.beginAt(rs, day(1))
	stage(t, tx, evaluated)
	SameDigests(t, "state while an apply is staged", e.view(rs, true), before)
	other := &stateEnv{t: t, s: e.another(), f: e.f}
	SameDigests(t, "state while an apply is staged, read by another store", other.view(rs, true), before)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("a second rollback: %v", err)
	}
	SameDigests(t, "state after a rollback", e.view(rs, true), before)
	samePlan(t, plan, e.planAt(rs, day(1), o))
	if err := e.s.FinishRun(ctx, id, jobs.RunSummary{Status: jobs.StatusFailed, Finished: day(1), Error: "rolled back"}); err != nil {
		t.Fatal(err)
	}

	tx, id = e.beginAt(rs, day(1)) // the rollback released the lock
	stage(t, tx, evaluated)
	finished := day(1).Add(time.Minute)
	sum := jobs.RunSummary{Status: jobs.StatusSucceeded, Finished: finished, Customers: plan.Customers, Changed: plan.Changed, Actions: plan.ActionsTotal}
	if err := tx.Commit(ctx, sum); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatalf("rollback after commit: %v", err)
	}
	if moves := e.checkMoves(&jobs.Outcome{Report: plan, RunID: id}, day(1)); moves == 0 {
		t.Fatal("the commit wrote no moves")
	}
	if n := len(e.queue(kernel.ActionFilter{RuleSet: rs.Name})); n != plan.ActionsTotal {
		t.Fatalf("the commit queued %d actions, the plan said %d", n, plan.ActionsTotal)
	}
	if r := e.runByID(id); r.Status != "succeeded" || r.Finished == nil || !r.Finished.Equal(finished) ||
		r.Customers != int64(plan.Customers) || r.Changed != int64(plan.Changed) || r.Actions != int64(plan.ActionsTotal) || r.Error != nil {
		t.Fatalf("run record of the commit: %+v; want the summary %+v", r, sum)
	}
	if again := e.planAt(rs, day(1), o); again.HasChanges() {
		t.Fatalf("the plan after the commit: changed %d, actions %d; want nothing", again.Changed, again.ActionsTotal)
	}
}

// A StateReader opened before a commit reads the state as it was when
// it opened, initial flag included, after the commit; one opened after
// reads the new state.
func testStateReaderView(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 300)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	keys := e.f.keys()

	r, err := e.s.OpenState(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	out := e.applyAt(rs, day(0), o)
	if !r.Initial() {
		t.Fatal("a reader opened before the first apply is no longer initial after it")
	}
	batch := customers(keys)
	if err := r.Load(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, c := range batch {
		if len(c.State.Segments) != len(rs.Segmentations) || c.State.Segments[0].Segment != "" {
			t.Fatalf("a reader opened before the first apply reads %+v for customer %s", c.State, c.Key)
		}
	}
	r.Close()

	old, initial := states(t, e.s, rs, keys)
	if initial || len(old) != 300 {
		t.Fatalf("after the first apply: initial=%v, %d customers", initial, len(old))
	}
	r, err = e.s.OpenState(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e.f.shift()
	next := e.applyAt(rs, day(1), o)
	if next.Report.Changed == 0 || next.RunID == out.RunID {
		t.Fatal("the shift changed nothing")
	}
	batch = customers(keys)
	if err := r.Load(ctx, batch); err != nil {
		t.Fatal(err)
	}
	now, _ := states(t, e.s, rs, keys)
	differ := 0
	for _, c := range batch {
		for i, a := range c.State.Segments {
			if a != old[c.Key].Segments[i] {
				t.Fatalf("customer %s, %s: a reader opened before a commit reads %+v, then %+v", c.Key, rs.Segmentations[i].Name, old[c.Key].Segments[i], a)
			}
			if a != now[c.Key].Segments[i] {
				differ++
			}
		}
	}
	if differ == 0 {
		t.Fatal("a reader opened after the commit reads what one opened before it does")
	}
}

// customers returns customers with the given keys and no facts.
func customers(keys []string) []engine.Customer {
	out := make([]engine.Customer, len(keys))
	for i, k := range keys {
		out[i].Key = k
	}
	return out
}

// A run left 'running' by a process that died is marked abandoned by the
// next apply that takes the rule set's lock, whatever its own outcome
// (here a guard blocks it), and finished at that apply's start. An
// apply locked out proves nothing and leaves it alone, as does an apply
// whose run is older; another rule set's runs are left alone.
func testStateAbandoned(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 300)
	rs := RetailRuleSet(t)
	e.applyAt(rs, day(0), Options())
	start := func(ruleset string) int64 {
		t.Helper()
		id, err := e.s.StartRun(ctx, jobs.RunInfo{RuleSet: ruleset, RulesHash: "x", AsOf: day(1), Started: day(1)}, "apply")
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	status := func(id int64) string { t.Helper(); return e.runByID(id).Status }
	// What a SIGKILLed apply leaves: its run record, still running.
	dead, other := start(retailName), start("other")

	holder, err := e.another().BeginApply(ctx, rs, jobs.RunInfo{RuleSet: rs.Name, AsOf: asOf, Started: asOf})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Apply(ctx, e.s, e.f, rs, Options()); !errors.Is(err, jobs.ErrLocked) {
		t.Fatalf("apply while locked: %v", err)
	}
	if s := status(dead); s != "running" {
		t.Fatalf("after a locked-out apply the dead run is %q, want running", s)
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}

	e.f.zero()
	o := Options()
	o.AsOf = day(1)
	clock := day(1).Add(time.Hour)
	o.Now = func() time.Time { return clock }
	out, err := jobs.Apply(ctx, e.s, e.f, rs, o)
	if !errors.Is(err, jobs.ErrBlocked) {
		t.Fatalf("apply on zeroed facts: %v, want ErrBlocked", err)
	}
	if r := e.runByID(dead); r.Status != "abandoned" || r.Finished == nil || !r.Finished.Equal(clock) {
		t.Fatalf("after a blocked apply the dead run is %+v; want abandoned, finished at %s", r, clock)
	}
	if s := status(other); s != "running" {
		t.Fatalf("after a blocked apply another rule set's run is %q, want running", s)
	}
	if s := status(out.RunID); s != "blocked" {
		t.Fatalf("the blocked apply is recorded %q", s)
	}

	older, newer := start(retailName), start(retailName)
	tx, err := e.s.BeginApply(ctx, rs, jobs.RunInfo{ID: older, RuleSet: rs.Name, RulesHash: rs.Hash, AsOf: day(2), Started: day(2)})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if s, n := status(older), status(newer); s != "running" || n != "running" {
		t.Fatalf("an apply's own run is %q and a run started after it %q; want both running", s, n)
	}
}
