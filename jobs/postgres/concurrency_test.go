package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
)

// Two applies of one rule set started together: exactly one writes, the
// other ends with ErrLocked and is recorded as skipped, and the state is
// that of a single apply. Each apply has its own connection pool, like
// two processes; the facts source sleeps, so the winner holds the lock
// long after the loser asks for it.
func TestConcurrentApplies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 3000
	control := newStore(t, n)
	url := pgtest.URL(t)
	setup := openStore(t, url)
	if _, err := setup.Migrate(ctx, false); err != nil {
		t.Fatal(err)
	}
	exec(t, setup, factsDDL)
	insertCustomers(t, setup, 1, n)
	rs := retail(t)
	o := opts()
	o.Guard.AllowLarge = true
	for _, s := range []*postgres.Store{control, setup} {
		applyAt(t, s, rs, day(0), o)
		shiftFacts(t, s)
	}
	applyAt(t, control, rs, day(1), o)

	const slow = `SELECT f.* FROM customer_facts f CROSS JOIN (SELECT pg_sleep(0.5)) AS pause`
	var stores [2]*postgres.Store
	for i := range stores {
		s, err := postgres.Open(ctx, postgres.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	type result struct {
		out *jobs.Outcome
		err error
	}
	start := make(chan struct{})
	results := make(chan result, len(stores))
	for _, s := range stores {
		go func() {
			<-start
			o := o
			o.AsOf = day(1)
			out, err := jobs.Apply(ctx, s, jobs.FactsByRuleSet{"retail": s.Source(slow)}, rs, o)
			results <- result{out, err}
		}()
	}
	close(start)
	var won, locked []result
	for range stores {
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
	var status string
	if err := setup.DB().Get(&status, `SELECT status FROM tierflow.runs WHERE id = $1`, locked[0].out.RunID); err != nil {
		t.Fatal(err)
	}
	if status != "skipped" {
		t.Fatalf("the apply that found the lock taken is recorded %q, want skipped", status)
	}
	if got := runStatuses(t, setup); got["succeeded"] != 2 || got["skipped"] != 1 || len(got) != 2 {
		t.Fatalf("run statuses %v, want the initial and one more succeeded, one skipped", got)
	}
	sameDigests(t, "state after two concurrent applies against a single apply", outcomeDigest(t, setup), outcomeDigest(t, control))
	noDuplicateActions(t, setup)
}

// An apply that finds the rule set's lock held by someone else (here a
// transaction of the test) writes nothing and is recorded as skipped. A
// plan is not locked out.
func TestApplyWhileLocked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 500)
	rs := retail(t)
	tx, err := s.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtext('tierflow:tierflow'), hashtext('retail'))`); err != nil {
		t.Fatal(err)
	}
	before := stateDigest(t, s)
	out, err := jobs.Apply(ctx, s, facts(s), rs, opts())
	if !errors.Is(err, jobs.ErrLocked) {
		t.Fatalf("apply while locked: %v, want ErrLocked", err)
	}
	sameDigests(t, "state after a locked-out apply", stateDigest(t, s), before)
	if got := runStatuses(t, s); got["skipped"] != 1 || len(got) != 1 {
		t.Fatalf("run statuses %v, want one skipped", got)
	}
	if out.Report != nil {
		t.Fatal("a locked-out apply evaluated customers")
	}
	if _, err := jobs.Plan(ctx, s, facts(s), rs, opts()); err != nil {
		t.Fatalf("plan while an apply holds the lock: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Apply(ctx, s, facts(s), rs, opts()); err != nil {
		t.Fatalf("apply after the lock was released: %v", err)
	}
}
