package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// A plan writes nothing: every table of the tierflow schema, the facts
// table and the sequences are byte-for-byte the same afterwards, on the
// first run, with changes pending, with a guard that would block, and
// with nothing to do. What it reports is what the apply then does.
func TestPlanWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 2000)
	rs := retail(t)
	o := opts()
	plan := func(wantChanges bool) *jobs.PlanReport {
		t.Helper()
		before := databaseDigest(t, s)
		out, err := jobs.Plan(ctx, s, facts(s), rs, o)
		if err != nil {
			t.Fatal(err)
		}
		sameDigests(t, "database after a plan", databaseDigest(t, s), before)
		if out.RunID != 0 || out.Report.Mode != "plan" {
			t.Fatalf("plan: run %d, mode %q", out.RunID, out.Report.Mode)
		}
		if got := out.Report.HasChanges(); got != wantChanges {
			t.Fatalf("plan: HasChanges = %v (changed %d, actions %d), want %v", got, out.Report.Changed, out.Report.ActionsTotal, wantChanges)
		}
		return out.Report
	}
	samePlan := func(p, a *jobs.PlanReport) {
		t.Helper()
		if p.Changed != a.Changed || p.ActionsTotal != a.ActionsTotal || p.Customers != a.Customers || p.Initial != a.Initial {
			t.Fatalf("plan said changed=%d actions=%d customers=%d initial=%v; the apply did %d, %d, %d, %v",
				p.Changed, p.ActionsTotal, p.Customers, p.Initial, a.Changed, a.ActionsTotal, a.Customers, a.Initial)
		}
	}

	first := plan(true)
	if !first.Initial {
		t.Fatal("plan before any apply is not initial")
	}
	samePlan(first, applyAt(t, s, rs, o.AsOf, o).Report)
	plan(false)

	shiftFacts(t, s)
	o.AsOf = day(1)
	blocked := plan(true)
	if !blocked.Guard.Blocked {
		t.Fatal("the plan of a large change does not say the guard would block it")
	}
	o.Guard.AllowLarge = true
	p := plan(true)
	samePlan(p, applyAt(t, s, rs, o.AsOf, o).Report)
	plan(false)
}

func TestUniqueKey(t *testing.T) {
	t.Parallel()
	storetest.CheckUniqueKey(t, newStore(t, 0).DB().DB, postgres.Dialect)
}

// TestChangeColumnNotTime: a change column PostgreSQL cannot order as
// times fails the incremental run, naming the column and its type.
func TestChangeColumnNotTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 20)
	rs := retail(t, storetest.WithoutCoverage...)
	o := storetest.Options()
	o.Incremental = true
	if _, err := jobs.Apply(ctx, s, facts(s), rs, o); err != nil {
		t.Fatal(err)
	}
	o.AsOf = o.AsOf.AddDate(0, 0, 1)
	f := jobs.FactsByRuleSet{"retail": jobs.Sources{{Name: jobs.PrimarySource, Facts: s.Source("customer_facts"), ChangeColumn: "channel"}}}
	_, err := jobs.Apply(ctx, s, f, rs, o)
	const want = `retail: the change column "channel" (text) does not hold times: it must be a timestamptz, timestamp (UTC) or date column that every insert and update sets`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("apply with a text change column: %v; want %q", err, want)
	}
}
