package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

// Customers whose facts make a rule fail keep their previous segments;
// the run counts them and reports examples naming the customer, the rule
// and the message; everyone else is applied.
func TestRuleErrorsKeepPreviousSegments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 2000)
	rs := retail(t)
	applyAt(t, s, rs, day(0), opts())
	exec(t, s, `ALTER TABLE customer_facts ALTER spend_12m DROP NOT NULL`)
	// Ten customers lose their spend (a null in a fact declared not
	// nullable: a fact error); they also change channel, which the source
	// segmentation reads. Everyone else changes channel too.
	exec(t, s, `UPDATE customer_facts SET spend_12m = NULL WHERE customer_id % 200 = 0`)
	exec(t, s, `UPDATE customer_facts SET channel = 'partner' WHERE channel <> 'partner' AND customer_id % 20 = 0`)
	broken := `customer_key IN (SELECT customer_id::text FROM customer_facts WHERE spend_12m IS NULL)`
	tiersBefore := digestOf(t, s.DB().DB, `SELECT * FROM tierflow.assignments WHERE segmentation IN ('value_tier', 'lifecycle') AND `+broken)

	o := opts()
	o.AsOf = day(0)
	out, err := jobs.Apply(ctx, s, facts(s), rs, o)
	if err != nil {
		t.Fatalf("apply with 0.5%% of customers failing a rule (limit 1%%): %v", err)
	}
	errs := out.Report.Errors
	if errs.Customers != 10 || len(errs.Examples) == 0 {
		t.Fatalf("report errors: %+v, want 10 customers with examples", errs)
	}
	for _, ex := range errs.Examples {
		if ex.Customer == "" || ex.Rule != "facts.spend_12m" || !strings.Contains(ex.Message, "null, but the fact is not declared nullable") {
			t.Errorf("error example %+v: want a customer, the fact's field path and a message about the null", ex)
		}
		if !strings.HasSuffix(ex.Customer, "00") {
			t.Errorf("error example names customer %s, whose facts are fine", ex.Customer)
		}
	}
	if errs.ByRule["facts.spend_12m"] != 10 {
		t.Errorf("errors by rule: %v", errs.ByRule)
	}
	sameDigests(t, "value_tier and lifecycle of the customers whose rules failed",
		map[string]string{"x": digestOf(t, s.DB().DB, `SELECT * FROM tierflow.assignments WHERE segmentation IN ('value_tier', 'lifecycle') AND `+broken)},
		map[string]string{"x": tiersBefore})
	// A customer whose fact is unusable is not evaluated at all: it keeps
	// its segment in the source segmentation too, while others move.
	if got := count(t, s, `SELECT count(*) FROM tierflow.assignments WHERE segmentation = 'source' AND run_id = $1 AND `+broken, out.RunID); got != 0 {
		t.Errorf("%d customers with an unusable fact moved in the source segmentation; want them not evaluated", got)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.assignments WHERE segmentation = 'source' AND segment = 'other' AND run_id = $1`, out.RunID); got == 0 {
		t.Error("no customer moved in the source segmentation: the rest of the run was not applied")
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.history WHERE run_id = $1`, out.RunID); got != out.Report.Changed {
		t.Errorf("history records %d moves, the report %d", got, out.Report.Changed)
	}

	var nerr int
	var detail []byte
	if err := s.DB().QueryRow(`SELECT errors, detail FROM tierflow.runs WHERE id = $1 AND status = 'succeeded'`, out.RunID).Scan(&nerr, &detail); err != nil {
		t.Fatal(err)
	}
	var stored jobs.PlanReport
	if err := json.Unmarshal(detail, &stored); err != nil {
		t.Fatal(err)
	}
	if nerr != 10 || stored.Errors.Customers != 10 || len(stored.Errors.Examples) == 0 {
		t.Fatalf("run record: errors=%d, stored report errors %+v", nerr, stored.Errors)
	}
}

// Above max_error_rate the run aborts: nothing is applied, the run is
// recorded as failed with the reason.
func TestTooManyRuleErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 2000)
	rs := retail(t)
	applyAt(t, s, rs, day(0), opts())
	exec(t, s, `ALTER TABLE customer_facts ALTER spend_12m DROP NOT NULL`)
	exec(t, s, `UPDATE customer_facts SET spend_12m = NULL WHERE customer_id % 20 = 0`)
	exec(t, s, `UPDATE customer_facts SET channel = 'partner'`)
	before := stateDigest(t, s)

	o := opts()
	o.Guard.AllowLarge = true // the error limit holds even then
	out, err := jobs.Apply(ctx, s, facts(s), rs, o)
	if !errors.Is(err, jobs.ErrTooManyRuleErrors) {
		t.Fatalf("apply with 5%% of customers failing (limit 1%%): err = %v, want ErrTooManyRuleErrors", err)
	}
	if out.Report == nil || out.Report.Errors.Customers != 100 || !out.Report.Guard.ErrorRateExceeded {
		t.Fatalf("report of the failed apply: %+v", out.Report)
	}
	sameDigests(t, "state after an apply with too many rule errors", stateDigest(t, s), before)
	var status, reason string
	if err := s.DB().QueryRow(`SELECT status, error FROM tierflow.runs WHERE id = $1`, out.RunID).Scan(&status, &reason); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || !strings.Contains(reason, "100 of 2000 customers") {
		t.Fatalf("run record: status %q, error %q", status, reason)
	}

	o.Guard.MaxErrorRate = -1 // no limit
	if _, err := jobs.Apply(ctx, s, facts(s), rs, o); err != nil {
		t.Fatalf("apply with no error limit: %v", err)
	}
}

// A rule set whose at_risk condition divides by last year's spend fails
// for customers with none; those customers keep their lifecycle segment
// and the message explains the failure.
func TestPctChangeOnZero(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 2000)
	rs := compileVariant(t, "when: spend_prev_12m > 0 && spend_12m < spend_prev_12m * params.at_risk_ratio",
		"when: pct_change(spend_prev_12m, spend_12m) < -50")
	exec(t, s, `UPDATE customer_facts SET spend_prev_12m = spend_prev_12m + 1`)
	if first := applyAt(t, s, rs, day(0), opts()); first.Report.Errors.Customers != 0 {
		t.Fatalf("first apply: %d rule errors, want none", first.Report.Errors.Customers)
	}
	// Five active customers had no spend last year.
	exec(t, s, `UPDATE customer_facts SET spend_prev_12m = 0 WHERE customer_id::text IN (
		SELECT customer_key FROM tierflow.assignments WHERE segmentation = 'lifecycle' AND segment = 'active' ORDER BY customer_key LIMIT 5)`)
	before := digestOf(t, s.DB().DB, `SELECT * FROM tierflow.assignments a JOIN customer_facts f ON a.customer_key = f.customer_id::text WHERE f.spend_prev_12m = 0`)

	out, err := jobs.Apply(ctx, s, facts(s), rs, opts())
	if err != nil {
		t.Fatal(err)
	}
	errs := out.Report.Errors
	if errs.Customers != 5 || errs.ByRule["segmentations.lifecycle.segments.at_risk.when"] != 5 || len(errs.Examples) != 5 {
		t.Fatalf("report errors: %+v", errs)
	}
	for _, ex := range errs.Examples {
		if !strings.Contains(ex.Message, "pct_change: the old value is 0") {
			t.Errorf("example %+v: want pct_change's message", ex)
		}
	}
	if after := digestOf(t, s.DB().DB, `SELECT * FROM tierflow.assignments a JOIN customer_facts f ON a.customer_key = f.customer_id::text WHERE f.spend_prev_12m = 0`); after != before {
		t.Fatal("customers whose at_risk rule failed changed assignments")
	}
}
