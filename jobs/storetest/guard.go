package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

var guardCases = []testCase{
	{"guard blocks zeroed facts and writes nothing, AllowLarge passes", testGuardZeroedFacts},
	{"guard max_actions", testGuardMaxActions},
	{"rule errors keep previous segments", testRuleErrors},
	{"too many rule errors abort the run", testTooManyRuleErrors},
}

// A zeroed facts table (a broken upstream load) must not reclassify
// everyone: the apply refuses, writes nothing, and records why.
func testGuardZeroedFacts(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 2000)
	rs := RetailRuleSet(t)
	e.applyAt(rs, day(0), Options())
	e.exec(`UPDATE customer_facts SET spend_12m = 0, spend_prev_12m = 0, orders_12m = 0`)
	before := e.stateDigest()

	o := Options()
	o.AsOf = day(1)
	out, err := jobs.Apply(ctx, e.s, e.f, rs, o)
	if !errors.Is(err, jobs.ErrBlocked) {
		t.Fatalf("apply on zeroed facts: err = %v, want ErrBlocked", err)
	}
	if out == nil || out.Report == nil || !out.Report.Guard.Blocked || !strings.Contains(err.Error(), "would change segment") {
		t.Fatalf("blocked apply: report %+v, err %v; want the report and a reason naming the moved share", out, err)
	}
	if out.Report.Status != string(jobs.StatusBlocked) {
		t.Errorf("blocked apply: report status %q, want blocked (apply --json prints it)", out.Report.Status)
	}
	SameDigests(t, "state after a blocked apply", e.stateDigest(), before)
	status, reason := e.run(out.RunID)
	if status != "blocked" || !strings.Contains(reason, "would change segment") || !strings.Contains(reason, "--allow-large-change") {
		t.Fatalf("run record: status %q, error %q; want blocked with the reason", status, reason)
	}

	o.Guard.AllowLarge = true
	out, err = jobs.Apply(ctx, e.s, e.f, rs, o)
	if err != nil {
		t.Fatalf("apply with AllowLarge: %v", err)
	}
	if out.Report.Changed < 400 {
		t.Fatalf("apply with AllowLarge changed %d customers, want the zeroed ones moved", out.Report.Changed)
	}
	if got := e.runStatuses(); got["succeeded"] != 2 || got["blocked"] != 1 {
		t.Fatalf("run statuses %v", got)
	}
}

// max_actions caps the queue a run may fill; AllowLarge lifts it.
func testGuardMaxActions(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 2000)
	rs := RetailRuleSet(t)
	e.applyAt(rs, day(0), Options())
	e.exec(`UPDATE customer_facts SET spend_prev_12m = spend_12m * 3 WHERE customer_id % 20 = 0`)
	before := e.stateDigest()

	o := Options()
	o.AsOf = day(1)
	o.Guard.MaxActions = 5
	out, err := jobs.Apply(ctx, e.s, e.f, rs, o)
	if !errors.Is(err, jobs.ErrBlocked) || !strings.Contains(err.Error(), "actions would be queued, more than the limit of 5") {
		t.Fatalf("apply over max_actions: %v", err)
	}
	if out.Report.ActionsTotal <= 5 {
		t.Fatalf("the change should queue more than 5 actions, the report says %d", out.Report.ActionsTotal)
	}
	SameDigests(t, "state after an apply blocked by max_actions", e.stateDigest(), before)

	o.Guard.MaxActions = out.Report.ActionsTotal
	if _, err := jobs.Apply(ctx, e.s, e.f, rs, o); err != nil {
		t.Fatalf("apply at exactly max_actions: %v", err)
	}
	if got := e.count(`SELECT count(*) FROM {actions}`); got != out.Report.ActionsTotal {
		t.Fatalf("queued %d actions, want %d", got, out.Report.ActionsTotal)
	}
}

// brokenCustomers selects the state of customers whose spend is null.
const brokenCustomers = `customer_key IN (SELECT CAST(customer_id AS TEXT) FROM customer_facts WHERE spend_12m IS NULL)`

// Customers whose facts make a rule fail keep their previous segments;
// the run counts them and reports examples naming the customer, the rule
// and the message; everyone else is applied.
func testRuleErrors(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 2000)
	rs := RetailRuleSet(t)
	e.applyAt(rs, day(0), Options())
	// Ten customers lose their spend (a null in a fact not declared
	// nullable: a fact error); some of everyone change channel, which the
	// source segmentation reads.
	e.exec(`UPDATE customer_facts SET spend_12m = NULL WHERE customer_id % 200 = 0`)
	e.exec(`UPDATE customer_facts SET channel = 'partner' WHERE channel <> 'partner' AND customer_id % 20 = 0`)
	tiers := `SELECT * FROM {assignments} WHERE segmentation IN ('value_tier', 'lifecycle') AND ` + brokenCustomers
	tiersBefore := e.digest(tiers)

	out, err := jobs.Apply(ctx, e.s, e.f, rs, Options())
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
	if after := e.digest(tiers); after != tiersBefore {
		t.Fatalf("value_tier and lifecycle of the customers whose rules failed changed: %s, was %s", after, tiersBefore)
	}
	// A customer whose fact is unusable is not evaluated at all: it keeps
	// its segment in the source segmentation too, while others move.
	if got := e.count(`SELECT count(*) FROM {assignments} WHERE segmentation = 'source' AND run_id = $1 AND `+brokenCustomers, out.RunID); got != 0 {
		t.Errorf("%d customers with an unusable fact moved in the source segmentation; want them not evaluated", got)
	}
	if got := e.count(`SELECT count(*) FROM {assignments} WHERE segmentation = 'source' AND segment = 'other' AND run_id = $1`, out.RunID); got == 0 {
		t.Error("no customer moved in the source segmentation: the rest of the run was not applied")
	}
	if got := e.count(`SELECT count(*) FROM {history} WHERE run_id = $1`, out.RunID); got != out.Report.Changed {
		t.Errorf("history records %d moves, the report %d", got, out.Report.Changed)
	}

	var nerr int
	var detail []byte
	e.scan(`SELECT errors, detail FROM {runs} WHERE id = $1 AND status = 'succeeded'`, []any{out.RunID}, &nerr, &detail)
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
func testTooManyRuleErrors(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 2000)
	rs := RetailRuleSet(t)
	e.applyAt(rs, day(0), Options())
	e.exec(`UPDATE customer_facts SET spend_12m = NULL WHERE customer_id % 20 = 0`)
	e.exec(`UPDATE customer_facts SET channel = 'partner'`)
	before := e.stateDigest()

	o := Options()
	o.Guard.AllowLarge = true // the error limit holds even then
	out, err := jobs.Apply(ctx, e.s, e.f, rs, o)
	if !errors.Is(err, jobs.ErrTooManyRuleErrors) {
		t.Fatalf("apply with 5%% of customers failing (limit 1%%): err = %v, want ErrTooManyRuleErrors", err)
	}
	if out.Report == nil || out.Report.Errors.Customers != 100 || !out.Report.Guard.ErrorRateExceeded {
		t.Fatalf("report of the failed apply: %+v", out.Report)
	}
	SameDigests(t, "state after an apply with too many rule errors", e.stateDigest(), before)
	status, reason := e.run(out.RunID)
	if status != "failed" || !strings.Contains(reason, "100 of 2000 customers") {
		t.Fatalf("run record: status %q, error %q", status, reason)
	}

	o.Guard.MaxErrorRate = -1 // no limit
	if _, err := jobs.Apply(ctx, e.s, e.f, rs, o); err != nil {
		t.Fatalf("apply with no error limit: %v", err)
	}
}
