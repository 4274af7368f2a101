package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

var lockCases = []testCase{
	{"concurrent applies of one rule set: one writes, the other is locked out", testConcurrentApplies},
	{"apply while the rule set is locked", testApplyWhileLocked},
	{"dead run marked abandoned", testDeadRunAbandoned},
}

// lockedOutWithin is how soon an apply that finds its rule set locked
// must return: at once, not after a wait for a database lock.
const lockedOutWithin = 5 * time.Second

// gated is a store whose snapshots open only once release is closed (or
// a timeout passes): an apply that got the lock holds it until then.
type gated struct {
	Store
	release <-chan struct{}
}

func (g gated) wait() {
	select {
	case <-g.release:
	case <-time.After(2 * lockedOutWithin):
	}
}

func (g gated) Join(ctx context.Context, rs *rules.RuleSet, src jobs.FactsSource) (jobs.Snapshot, bool, error) {
	g.wait()
	return g.Store.Join(ctx, rs, src)
}

func (g gated) OpenState(ctx context.Context, rs *rules.RuleSet) (jobs.StateReader, error) {
	g.wait()
	return g.Store.OpenState(ctx, rs)
}

// Two applies of one rule set started together, each with its own
// connection pool, like two processes: exactly one writes, the other
// ends at once with ErrLocked and is recorded as skipped, and the state
// is that of a single apply. The one that gets the lock waits, holding
// it, until the other has returned.
func testConcurrentApplies(t *testing.T, nb func(t *testing.T) Backend) {
	const n = 2000
	control := newEnv(t, nb, n)
	e := newEnv(t, nb, n)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	for _, x := range []*env{control, e} {
		x.applyAt(rs, day(0), o)
		ShiftFacts(t, x.s.DB())
	}
	control.applyAt(rs, day(1), o)

	type result struct {
		out  *jobs.Outcome
		err  error
		took time.Duration
	}
	done := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	results := make(chan result, 2)
	start := make(chan struct{})
	for i := range done {
		s := gated{Store: e.open(), release: done[1-i]}
		go func() {
			defer close(done[i])
			<-start
			o := o
			o.AsOf = day(1)
			began := time.Now()
			out, err := jobs.Apply(context.Background(), s, factsOf(s.Store), rs, o)
			results <- result{out, err, time.Since(began)}
		}()
	}
	close(start)
	var won, locked []result
	for range done {
		r := <-results
		switch {
		case r.err == nil:
			won = append(won, r)
		case errors.Is(r.err, jobs.ErrLocked):
			locked = append(locked, r)
		default:
			t.Fatalf("apply: %v", r.err)
		}
	}
	if len(won) != 1 || len(locked) != 1 {
		t.Fatalf("%d applies succeeded and %d found the lock taken; want one of each", len(won), len(locked))
	}
	if locked[0].took > lockedOutWithin {
		t.Fatalf("the apply that found the lock taken returned after %v; want at once", locked[0].took)
	}
	if status, _ := e.run(locked[0].out.RunID); status != "skipped" {
		t.Fatalf("the apply that found the lock taken is recorded %q, want skipped", status)
	}
	if got := e.runStatuses(); got["succeeded"] != 2 || got["skipped"] != 1 || len(got) != 2 {
		t.Fatalf("run statuses %v, want the initial and one more succeeded, one skipped", got)
	}
	SameDigests(t, "state after two concurrent applies against a single apply", e.outcomeDigest(), control.outcomeDigest())
	e.noDuplicateActions()
}

// An apply that finds the rule set's lock held by another store's apply
// writes nothing and is recorded as skipped. Neither a plan nor an apply
// of another rule set is locked out; once the lock is released, the
// apply runs.
func testApplyWhileLocked(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 500)
	rs := RetailRuleSet(t)
	holder, err := e.open().BeginApply(ctx, rs, jobs.RunInfo{RuleSet: rs.Name, RulesHash: rs.Hash, AsOf: asOf, Started: asOf})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()

	before := e.stateDigest()
	began := time.Now()
	out, err := jobs.Apply(ctx, e.s, e.f, rs, Options())
	if !errors.Is(err, jobs.ErrLocked) {
		t.Fatalf("apply while locked: %v, want ErrLocked", err)
	}
	if took := time.Since(began); took > lockedOutWithin {
		t.Fatalf("the locked-out apply returned after %v; want at once", took)
	}
	SameDigests(t, "state after a locked-out apply", e.stateDigest(), before)
	if got := e.runStatuses(); got["skipped"] != 1 || len(got) != 1 {
		t.Fatalf("run statuses %v, want one skipped", got)
	}
	if out.Report != nil {
		t.Fatal("a locked-out apply evaluated customers")
	}
	if _, err := jobs.Plan(ctx, e.s, e.f, rs, Options()); err != nil {
		t.Fatalf("plan while an apply holds the lock: %v", err)
	}
	other := e.applyAt(renamed(t, copyName), day(0), Options())
	if other.Report.Customers != 500 {
		t.Fatalf("apply of another rule set while the lock is held: %d customers", other.Report.Customers)
	}

	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	out = e.applyAt(rs, day(0), Options())
	if got := e.count(`SELECT count(*) FROM {assignments} WHERE ruleset = 'retail' AND run_id = $1`, out.RunID); got != 1500 {
		t.Fatalf("apply after the lock was released wrote %d assignments, want 1500", got)
	}
}

// A run left 'running' by a process that died is marked abandoned by the
// next apply that takes the rule set's lock, whatever that apply's own
// outcome: here a guard blocks it. Another rule set's runs, and runs
// started after it, are left alone.
func testDeadRunAbandoned(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 500)
	rs := RetailRuleSet(t)
	e.applyAt(rs, day(0), Options())
	// What a SIGKILLed apply leaves: its run record, still running.
	dead, err := e.s.StartRun(ctx, jobs.RunInfo{RuleSet: "retail", RulesHash: rs.Hash, AsOf: day(1), Started: day(1)}, "apply")
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.s.StartRun(ctx, jobs.RunInfo{RuleSet: "other", RulesHash: "x", AsOf: day(1), Started: day(1)}, "apply")
	if err != nil {
		t.Fatal(err)
	}
	e.exec(`UPDATE customer_facts SET spend_12m = 0, spend_prev_12m = 0, orders_12m = 0`)
	o := Options()
	o.AsOf = day(1)
	out, err := jobs.Apply(ctx, e.s, e.f, rs, o)
	if !errors.Is(err, jobs.ErrBlocked) {
		t.Fatalf("apply: %v, want ErrBlocked", err)
	}
	if status, _ := e.run(dead); status != "abandoned" {
		t.Fatalf("after a blocked apply the dead run is %q, want abandoned", status)
	}
	if status, _ := e.run(other); status != "running" {
		t.Fatalf("after a blocked apply another rule set's run is %q, want running", status)
	}
	if status, _ := e.run(out.RunID); status != "blocked" {
		t.Fatalf("the blocked apply is recorded %q", status)
	}
}
