package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

func TestApplyInitialThenIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 2000)
	rs := retail(t)

	out, err := jobs.Apply(ctx, s, facts(s), rs, opts())
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

	again, err := jobs.Apply(ctx, s, facts(s), rs, opts())
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

// An apply repeated with the same facts and as-of time changes nothing
// and queues nothing, even when the first one moved customers and queued
// actions.
func TestApplyTwiceSameAsOf(t *testing.T) {
	t.Parallel()
	s := newStore(t, 3000)
	rs := retail(t)
	o := opts()
	o.Guard.AllowLarge = true
	applyAt(t, s, rs, day(0), o)
	shiftFacts(t, s)

	first := applyAt(t, s, rs, day(1), o)
	if first.Report.Changed == 0 || first.Report.ActionsTotal == 0 {
		t.Fatalf("first apply after the shift: changed=%d actions=%d, want both > 0", first.Report.Changed, first.Report.ActionsTotal)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.actions`); got != first.Report.ActionsTotal {
		t.Fatalf("queue holds %d actions, the report says %d", got, first.Report.ActionsTotal)
	}
	before := stateDigest(t, s)

	second := applyAt(t, s, rs, day(1), o)
	if second.Report.HasChanges() {
		t.Fatalf("second apply: changed=%d actions=%d, want nothing", second.Report.Changed, second.Report.ActionsTotal)
	}
	sameDigests(t, "state after a repeated apply", stateDigest(t, s), before)
	noDuplicateActions(t, s)
	var changed, actions int
	if err := s.DB().QueryRow(`SELECT changed, actions FROM tierflow.runs WHERE id = $1 AND status = 'succeeded'`, second.RunID).
		Scan(&changed, &actions); err != nil {
		t.Fatal(err)
	}
	if changed != 0 || actions != 0 {
		t.Fatalf("run record of the repeated apply: changed=%d actions=%d", changed, actions)
	}
}

// Cooldowns hold across runs: they are read from the queue's history
// (action_last), not from the current run. A VIP who re-enters at_risk
// 20 days after a win-back call is not called again; 40 days after, they
// are.
func TestCooldownAcrossRuns(t *testing.T) {
	t.Parallel()
	s := newStore(t, 0)
	rs := retail(t)
	o := opts()
	o.Guard = jobs.Guard{MaxErrorRate: 0} // two customers: any move is a large share
	vip := customer{id: 1, spend: 60000, prev: 55000, orders: 10, firstOrder: "2020-01-01", lastOrder: "2024-06-25", channel: "online"}
	other := customer{id: 2, spend: 500, prev: 400, orders: 1, firstOrder: "2020-01-01", lastOrder: "2024-06-25", channel: "store"}
	vip.put(t, s)
	other.put(t, s)
	calls := func() int {
		return count(t, s, `SELECT count(*) FROM tierflow.actions WHERE customer_key = '1' AND action = 'winback_call'`)
	}
	atRisk := func(risky bool) {
		vip.prev = 55000
		if risky {
			vip.prev = 130000 // spend below half of last year's
		}
		vip.put(t, s)
	}

	steps := []struct {
		day       int
		risky     bool
		wantCalls int
		wantState string
	}{
		{0, false, 0, "active"},  // initial run
		{1, true, 1, "at_risk"},  // enters at_risk: called
		{11, false, 1, "active"}, // recovers
		{21, true, 1, "at_risk"}, // re-enters 20 days after the call: cooldown
		{31, false, 1, "active"},
		{41, true, 2, "at_risk"}, // 40 days after the call: called again
		{41, true, 2, "at_risk"}, // the same run repeated
	}
	for _, st := range steps {
		atRisk(st.risky)
		applyAt(t, s, rs, day(st.day), o)
		var lifecycle string
		if err := s.DB().Get(&lifecycle, `SELECT segment FROM tierflow.assignments WHERE customer_key = '1' AND segmentation = 'lifecycle'`); err != nil {
			t.Fatal(err)
		}
		if got := calls(); got != st.wantCalls || lifecycle != st.wantState {
			t.Fatalf("day %d: customer 1 is %s with %d win-back calls, want %s with %d", st.day, lifecycle, got, st.wantState, st.wantCalls)
		}
	}
	noDuplicateActions(t, s)
	if got := count(t, s, `SELECT count(*) FROM tierflow.actions WHERE customer_key <> '1'`); got != 0 {
		t.Fatalf("%d actions queued for customers that did nothing", got)
	}
}

// The queue's idempotency key makes an apply retried at the same as-of
// queue each action once, even for an action without a cooldown whose
// condition still holds on the rerun.
func TestRetriedApplyQueuesOnce(t *testing.T) {
	t.Parallel()
	s := newStore(t, 1000)
	rs := compileVariant(t, "    cooldown: 365d\n", "")
	o := opts()
	o.Guard.AllowLarge = true
	o.InitialActions = true
	exec(t, s, `UPDATE customer_facts SET first_order_at = date '2024-06-20' WHERE customer_id % 10 = 0`)
	first := applyAt(t, s, rs, day(0), o)
	queued := count(t, s, `SELECT count(*) FROM tierflow.actions WHERE action = 'onboarding_message'`)
	if queued == 0 || queued != first.Report.Actions[1].Count {
		t.Fatalf("first apply queued %d welcome messages, report says %d", queued, first.Report.Actions[1].Count)
	}
	// Forget the state, as if the first apply's state were lost but its
	// queue kept: the rerun fires every welcome message again.
	exec(t, s, `DELETE FROM tierflow.customer_state`)
	rerun := applyAt(t, s, rs, day(0), o)
	if n := rerun.Report.Actions[1].Count; n != queued {
		t.Fatalf("the rerun fired %d welcome messages, want the same %d as the first run", n, queued)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.actions WHERE action = 'onboarding_message'`); got != queued {
		t.Fatalf("after the rerun the queue holds %d welcome messages, want %d", got, queued)
	}
	noDuplicateActions(t, s)
}

// The first run assigns everyone without the max_moved guard and queues
// no actions unless InitialActions is set.
func TestInitialRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("no actions by default", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, 1000)
		exec(t, s, `UPDATE customer_facts SET first_order_at = date '2024-06-20' WHERE customer_id % 10 = 0`)
		o := opts()
		o.Guard = jobs.Guard{MaxMovedShare: 0.01, MaxActions: 1, MaxErrorRate: 0.01}
		plan, err := jobs.Plan(ctx, s, facts(s), retail(t), o)
		if err != nil {
			t.Fatal(err)
		}
		out, err := jobs.Apply(ctx, s, facts(s), retail(t), o)
		if err != nil {
			t.Fatalf("initial apply with max_moved 1%%: %v", err)
		}
		for _, r := range []*jobs.PlanReport{plan.Report, out.Report} {
			if !r.Initial || r.Guard.Blocked || r.Changed != 1000 || r.ActionsTotal != 0 {
				t.Fatalf("%s: initial=%v blocked=%v changed=%d actions=%d, want initial, not blocked, 1000 changed, no actions",
					r.Mode, r.Initial, r.Guard.Blocked, r.Changed, r.ActionsTotal)
			}
		}
		if got := count(t, s, `SELECT count(*) FROM tierflow.actions`); got != 0 {
			t.Fatalf("initial run queued %d actions", got)
		}
		if got := count(t, s, `SELECT count(*) FROM tierflow.history WHERE from_segment IS NULL`); got != 3000 {
			t.Fatalf("history holds %d first assignments, want 3000", got)
		}
		second, err := jobs.Plan(ctx, s, facts(s), retail(t), o)
		if err != nil {
			t.Fatal(err)
		}
		if second.Report.Initial {
			t.Fatal("the run after the first is still reported as initial")
		}
	})
	t.Run("InitialActions", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, 1000)
		exec(t, s, `UPDATE customer_facts SET first_order_at = date '2024-06-20' WHERE customer_id % 10 = 0`)
		o := opts()
		o.InitialActions = true
		out, err := jobs.Apply(ctx, s, facts(s), retail(t), o)
		if err != nil {
			t.Fatal(err)
		}
		total := count(t, s, `SELECT count(*) FROM tierflow.actions`)
		welcome := count(t, s, `SELECT count(*) FROM tierflow.actions WHERE action = 'onboarding_message'`)
		if total != out.Report.ActionsTotal || welcome < 50 {
			t.Fatalf("initial run with InitialActions queued %d actions, %d of them welcome messages; the report says %d",
				total, welcome, out.Report.ActionsTotal)
		}
	})
}

// A zeroed facts table (a broken upstream load) must not reclassify
// everyone: the apply refuses, writes nothing, and records why.
func TestGuardBlocksZeroedFacts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 2000)
	rs := retail(t)
	applyAt(t, s, rs, day(0), opts())
	exec(t, s, `UPDATE customer_facts SET spend_12m = 0, spend_prev_12m = 0, orders_12m = 0`)
	before := stateDigest(t, s)

	o := opts()
	o.AsOf = day(1)
	out, err := jobs.Apply(ctx, s, facts(s), rs, o)
	if !errors.Is(err, jobs.ErrBlocked) {
		t.Fatalf("apply on zeroed facts: err = %v, want ErrBlocked", err)
	}
	if out == nil || out.Report == nil || !out.Report.Guard.Blocked || !strings.Contains(err.Error(), "would change segment") {
		t.Fatalf("blocked apply: report %+v, err %v; want the report and a reason naming the moved share", out, err)
	}
	sameDigests(t, "state after a blocked apply", stateDigest(t, s), before)
	var status, reason string
	if err := s.DB().QueryRow(`SELECT status, error FROM tierflow.runs WHERE id = $1`, out.RunID).Scan(&status, &reason); err != nil {
		t.Fatal(err)
	}
	if status != "blocked" || !strings.Contains(reason, "would change segment") || !strings.Contains(reason, "--allow-large-change") {
		t.Fatalf("run record: status %q, error %q; want blocked with the reason", status, reason)
	}

	o.Guard.AllowLarge = true
	out, err = jobs.Apply(ctx, s, facts(s), rs, o)
	if err != nil {
		t.Fatalf("apply with AllowLarge: %v", err)
	}
	if out.Report.Changed < 400 {
		t.Fatalf("apply with AllowLarge changed %d customers, want the zeroed ones moved", out.Report.Changed)
	}
	if got := runStatuses(t, s); got["succeeded"] != 2 || got["blocked"] != 1 {
		t.Fatalf("run statuses %v", got)
	}
}

// An empty facts table (a load that failed outright) changes nothing:
// the guard refuses it against the last successful run, and even with
// AllowLarge customers missing from the source keep their state and get
// no actions.
func TestEmptyFactsChangeNothing(t *testing.T) {
	t.Parallel()
	s := newStore(t, 500)
	rs := retail(t)
	applyAt(t, s, rs, day(0), opts())
	exec(t, s, `TRUNCATE customer_facts`)
	before := stateDigest(t, s)
	o := jobs.Options{AsOf: day(1), Guard: jobs.DefaultGuard}
	_, err := jobs.Apply(context.Background(), s, facts(s), rs, o)
	if !errors.Is(err, jobs.ErrBlocked) || !strings.Contains(err.Error(), "the facts source returned 0 customers") {
		t.Fatalf("apply on an empty facts table: %v, want ErrBlocked naming the empty source", err)
	}
	sameDigests(t, "state after a blocked apply on an empty facts table", stateDigest(t, s), before)
	o.Guard.AllowLarge = true
	out, err := jobs.Apply(context.Background(), s, facts(s), rs, o)
	if err != nil {
		t.Fatalf("apply on an empty facts table with AllowLarge: %v", err)
	}
	if out.Report.Customers != 0 || out.Report.HasChanges() {
		t.Fatalf("apply on an empty facts table: %d customers, changed %d, actions %d",
			out.Report.Customers, out.Report.Changed, out.Report.ActionsTotal)
	}
	sameDigests(t, "state after an apply on an empty facts table", stateDigest(t, s), before)
}

// max_actions caps the queue a run may fill; AllowLarge lifts it.
func TestGuardMaxActions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 2000)
	rs := retail(t)
	applyAt(t, s, rs, day(0), opts())
	exec(t, s, `UPDATE customer_facts SET spend_prev_12m = spend_12m * 3 WHERE customer_id % 20 = 0`)
	before := stateDigest(t, s)

	o := opts()
	o.AsOf = day(1)
	o.Guard.MaxActions = 5
	out, err := jobs.Apply(ctx, s, facts(s), rs, o)
	if !errors.Is(err, jobs.ErrBlocked) || !strings.Contains(err.Error(), "actions would be queued, more than the limit of 5") {
		t.Fatalf("apply over max_actions: %v", err)
	}
	if out.Report.ActionsTotal <= 5 {
		t.Fatalf("the shift should queue more than 5 actions, the report says %d", out.Report.ActionsTotal)
	}
	sameDigests(t, "state after an apply blocked by max_actions", stateDigest(t, s), before)

	o.Guard.MaxActions = out.Report.ActionsTotal
	if _, err := jobs.Apply(ctx, s, facts(s), rs, o); err != nil {
		t.Fatalf("apply at exactly max_actions: %v", err)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.actions`); got != out.Report.ActionsTotal {
		t.Fatalf("queued %d actions, want %d", got, out.Report.ActionsTotal)
	}
}

// A run left 'running' by a process that died is marked abandoned by the
// next apply that takes the rule set's lock, whatever that apply's own
// outcome: here a guard blocks it. Runs started after it are left alone.
func TestDeadRunMarkedAbandoned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 500)
	rs := retail(t)
	applyAt(t, s, rs, day(0), opts())
	// What a SIGKILLed apply leaves: its run record, still running.
	dead, err := s.StartRun(ctx, jobs.RunInfo{RuleSet: "retail", RulesHash: rs.Hash, AsOf: day(1), Started: day(1)}, "apply")
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.StartRun(ctx, jobs.RunInfo{RuleSet: "other", RulesHash: "x", AsOf: day(1), Started: day(1)}, "apply")
	if err != nil {
		t.Fatal(err)
	}
	exec(t, s, `UPDATE customer_facts SET spend_12m = 0, spend_prev_12m = 0, orders_12m = 0`)
	o := opts()
	o.AsOf = day(1)
	if _, err := jobs.Apply(ctx, s, facts(s), rs, o); !errors.Is(err, jobs.ErrBlocked) {
		t.Fatalf("apply: %v, want ErrBlocked", err)
	}
	var status, otherStatus string
	if err := s.DB().QueryRow(`SELECT (SELECT status FROM tierflow.runs WHERE id = $1), (SELECT status FROM tierflow.runs WHERE id = $2)`,
		dead, other).Scan(&status, &otherStatus); err != nil {
		t.Fatal(err)
	}
	if status != "abandoned" || otherStatus != "running" {
		t.Fatalf("after a blocked apply the dead run is %q (want abandoned), another rule set's run %q (want running)", status, otherStatus)
	}
}

// TestDateFactsReadAsUTC: a date column means UTC midnight whatever the
// role's time zone, so days_since does not drift by a day.
func TestDateFactsReadAsUTC(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 1)
	var db string
	if err := s.DB().QueryRow(`SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	exec(t, s, `ALTER DATABASE "`+db+`" SET timezone TO 'Asia/Shanghai'`)
	exec(t, s, `UPDATE customer_facts SET first_order_at = '2019-07-01'`)
	s.DB().SetMaxIdleConns(0) // new connections pick up the database's time zone
	c, err := jobs.FindCustomer(ctx, s, facts(s), retail(t), "1", jobs.At(asOf))
	if err != nil {
		t.Fatal(err)
	}
	_, i, _ := retail(t).Facts.Lookup("first_order_at")
	if got := c.Facts[i].(time.Time); !got.Equal(time.Date(2019, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("first_order_at = %v, want 2019-07-01 00:00 UTC", got)
	}
}
