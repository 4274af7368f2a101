package storetest

import (
	"context"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

var planCases = []testCase{
	{"plan writes nothing", testPlanWritesNothing},
}

// A plan writes nothing: everything in the database (tierflow's tables,
// its migration record, the facts, any sequences) is the same
// afterwards, on the first run, with changes pending, with a guard that
// would block, and with nothing to do. What it reports is what the apply
// then does.
func testPlanWritesNothing(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 2000)
	rs := RetailRuleSet(t)
	o := Options()
	plan := func(wantChanges bool) *jobs.PlanReport {
		t.Helper()
		before := e.databaseDigest()
		out, err := jobs.Plan(ctx, e.s, e.f, rs, o)
		if err != nil {
			t.Fatal(err)
		}
		SameDigests(t, "database after a plan", e.databaseDigest(), before)
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
	samePlan(first, e.applyAt(rs, o.AsOf, o).Report)
	plan(false)

	ShiftFacts(t, e.s.DB())
	o.AsOf = day(1)
	blocked := plan(true)
	if !blocked.Guard.Blocked {
		t.Fatal("the plan of a large change does not say the guard would block it")
	}
	o.Guard.AllowLarge = true
	p := plan(true)
	samePlan(p, e.applyAt(rs, o.AsOf, o).Report)
	plan(false)
}
