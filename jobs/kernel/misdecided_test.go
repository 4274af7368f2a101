package kernel_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/storetest"
	"github.com/tierflow/tierflow/rules"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// factsStore is a migrated PostgreSQL store on a fresh database, with n
// generated retail customers in customer_facts.
func factsStore(t *testing.T, n int) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Config{URL: pgtest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	storetest.CreateFacts(t, s, storetest.PostgresFactsDDL, n)
	return s
}

// twoNights is a PostgreSQL store of n retail customers (without coverage
// targets) applied incrementally on two days, the marks of the second
// holding; o is the options of the second apply.
func twoNights(t *testing.T, n int) (*postgres.Store, *rules.RuleSet, jobs.FactsSource, jobs.Options) {
	t.Helper()
	ctx := context.Background()
	s := factsStore(t, n)
	rs := storetest.RetailRuleSet(t, storetest.WithoutCoverage...)
	facts := jobs.FactsByRuleSet{rs.Name: s.Source("customer_facts")}
	o := storetest.Options()
	o.Guard.AllowLarge, o.Incremental = true, true
	for day := range 2 {
		if day > 0 {
			o.AsOf = o.AsOf.AddDate(0, 0, 1)
		}
		if _, err := jobs.Apply(ctx, s, facts, rs, o); err != nil {
			t.Fatal(err)
		}
	}
	return s, rs, facts, o
}

// A database whose decisions were wrong is caught: a run checks a sample
// of the customers it decided unchanged against the engine, counts those
// that did change as misdecided, names them, and applies the engine's
// outcome for them. Here the decision is replaced by one that finds
// every customer with a state row unchanged.
func TestMisdecisionsAreCaught(t *testing.T) {
	ctx := context.Background()
	s, rs, facts, o := twoNights(t, 2000)
	// Everyone's spend halves: many fall to a lower tier or at risk.
	if _, err := s.DB().Exec(`UPDATE customer_facts SET spend_12m = spend_12m / 2`); err != nil {
		t.Fatal(err)
	}
	restore := kernel.SetDecidedHook(func(string) string { return "(st.customer_key IS NOT NULL AND st.facts_digest IS NOT NULL)" })
	defer restore()
	o.AsOf = o.AsOf.AddDate(0, 0, 1)
	out, err := jobs.Apply(ctx, s, facts, rs, o)
	if err != nil {
		t.Fatal(err)
	}
	r := out.Report.Incremental
	if !r.InDatabase || r.Checked == 0 || r.Misdecided == 0 || r.Misdecided > r.Checked || len(r.MisdecidedSamples) == 0 {
		t.Fatalf("incremental %+v; want misdecided customers among those checked, named", r)
	}
	// The checked customers got the engine's outcome: each one named
	// had its state written by this run.
	for _, key := range r.MisdecidedSamples {
		var n int
		if err := s.DB().Get(&n, `SELECT count(*) FROM tierflow.customer_state WHERE customer_key = $1 AND $2 = ANY(run_ids)`, key, out.RunID); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("customer %s, misdecided, was not written by the run", key)
		}
	}
	t.Logf("%d of %d checked customers misdecided (such as %v); %d changed in all", r.Misdecided, r.Checked, r.MisdecidedSamples, out.Report.Changed)
}

// Should the rules' translation raise an error in the database, the run
// fails saying so and how to run without it (--engine-only), which does.
func TestDecisionErrorSaysEngineOnly(t *testing.T) {
	ctx := context.Background()
	s, rs, facts, o := twoNights(t, 300)
	if _, err := s.DB().Exec(`UPDATE customer_facts SET spend_12m = spend_12m + 1`); err != nil {
		t.Fatal(err)
	}
	restore := kernel.SetDecidedHook(func(string) string {
		return "(1 / (length(st.customer_key) - length(st.customer_key)) = 1)" // division by zero, row by row
	})
	defer restore()
	o.AsOf = o.AsOf.AddDate(0, 0, 1)
	_, err := jobs.Plan(ctx, s, facts, rs, o)
	if err == nil || !strings.Contains(err.Error(), "division by zero") || !strings.Contains(err.Error(), "--engine-only") {
		t.Fatalf("plan: %v; want the database's error and --engine-only", err)
	}
	o.EngineOnly = true
	if _, err := jobs.Plan(ctx, s, facts, rs, o); err != nil {
		t.Fatalf("plan with EngineOnly: %v", err)
	}
}
