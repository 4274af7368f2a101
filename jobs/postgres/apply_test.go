package postgres_test

import (
	"context"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

func TestApplyInitialThenIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 2000)
	rs := retail(t)

	out, err := jobs.Apply(ctx, s, rs, opts())
	if err != nil {
		t.Fatal(err)
	}
	if !out.Report.Initial || out.Report.Customers != 2000 {
		t.Fatalf("initial run: got initial=%v customers=%d", out.Report.Initial, out.Report.Customers)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.assignments WHERE ruleset = 'retail'`); got != 2000*3 {
		t.Fatalf("assignments after initial run = %d, want %d", got, 6000)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.actions`); got != 0 {
		t.Fatalf("initial run queued %d actions, want none (InitialActions is off)", got)
	}

	again, err := jobs.Apply(ctx, s, rs, opts())
	if err != nil {
		t.Fatal(err)
	}
	if again.Report.Initial || again.Report.HasChanges() {
		t.Fatalf("second apply with the same data: initial=%v changed=%d actions=%d, want no changes",
			again.Report.Initial, again.Report.Changed, again.Report.ActionsTotal)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.runs WHERE status = 'succeeded'`); got != 2 {
		t.Fatalf("succeeded runs = %d, want 2", got)
	}
}
