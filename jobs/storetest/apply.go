package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

var applyCases = []testCase{
	{"initial apply assigns everyone and queues no actions", testInitialApply},
	{"initial apply with InitialActions queues actions", testInitialActions},
	{"re-apply at the same as-of changes nothing", testReapply},
	{"moves write history and queue actions with payloads", testMoves},
	{"idempotency key prevents duplicate actions", testIdempotencyKey},
	{"cooldown holds across runs", testCooldown},
	{"empty facts change nothing", testEmptyFacts},
}

// The first run assigns everyone, without the max_moved guard, records
// each first assignment in history and queues no actions; the report
// and the state agree, and the run after it is not initial.
func testInitialApply(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 1000)
	e.exec(`UPDATE customer_facts SET first_order_at = '2024-06-20' WHERE customer_id % 10 = 0`)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard = jobs.Guard{MaxMovedShare: 0.01, MaxActions: 1, MaxErrorRate: 0.01}
	plan, err := jobs.Plan(ctx, e.s, e.f, rs, o)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jobs.Apply(ctx, e.s, e.f, rs, o)
	if err != nil {
		t.Fatalf("initial apply with max_moved 1%%: %v", err)
	}
	for _, r := range []*jobs.PlanReport{plan.Report, out.Report} {
		if !r.Initial || r.Guard.Blocked || r.Customers != 1000 || r.Changed != 1000 || r.ActionsTotal != 0 {
			t.Fatalf("%s: initial=%v blocked=%v customers=%d changed=%d actions=%d, want initial, not blocked, 1000 customers all changed, no actions",
				r.Mode, r.Initial, r.Guard.Blocked, r.Customers, r.Changed, r.ActionsTotal)
		}
	}
	if got := e.count(`SELECT count(*) FROM {assignments} WHERE ruleset = 'retail'`); got != 3000 {
		t.Fatalf("assignments after the initial run = %d, want 3000", got)
	}
	if got := e.count(`SELECT count(*) FROM {actions}`); got != 0 {
		t.Fatalf("the initial run queued %d actions, want none (InitialActions is off)", got)
	}
	if got := e.count(`SELECT count(*) FROM {history} WHERE from_segment IS NULL AND run_id = $1`, out.RunID); got != 3000 {
		t.Fatalf("history holds %d first assignments of the run, want 3000", got)
	}
	e.sameSegmentSizes(out.Report)
	if got := e.count(`SELECT count(*) FROM {assignments} WHERE since <> (SELECT as_of FROM {runs} WHERE id = $1)`, out.RunID); got != 0 {
		t.Fatalf("%d first assignments are not dated at the run's as-of", got)
	}
	second, err := jobs.Plan(ctx, e.s, e.f, rs, o)
	if err != nil {
		t.Fatal(err)
	}
	if second.Report.Initial || second.Report.HasChanges() {
		t.Fatalf("the plan after the first run: initial=%v changed=%d, want not initial and no changes", second.Report.Initial, second.Report.Changed)
	}
}

// sameSegmentSizes checks that the assignments hold as many customers in
// each segment as the report says there are after the run.
func (e *env) sameSegmentSizes(r *jobs.PlanReport) {
	e.t.Helper()
	for _, sr := range r.Segmentations {
		for _, seg := range sr.Segments {
			if seg.Name == "(removed)" {
				continue
			}
			got := e.count(`SELECT count(*) FROM {assignments} WHERE ruleset = $1 AND segmentation = $2 AND segment = $3`, r.RuleSet, sr.Name, seg.Name)
			if got != seg.After {
				e.t.Errorf("%s.%s holds %d customers, the report says %d", sr.Name, seg.Name, got, seg.After)
			}
		}
	}
	if e.t.Failed() {
		e.t.FailNow()
	}
}

func testInitialActions(t *testing.T, nb func(t *testing.T) Backend) {
	e := newEnv(t, nb, 1000)
	e.exec(`UPDATE customer_facts SET first_order_at = '2024-06-20' WHERE customer_id % 10 = 0`)
	o := Options()
	o.InitialActions = true
	out := e.applyAt(RetailRuleSet(t), day(0), o)
	total := e.count(`SELECT count(*) FROM {actions}`)
	welcome := e.count(`SELECT count(*) FROM {actions} WHERE action = 'onboarding_message'`)
	if total != out.Report.ActionsTotal || welcome < 50 {
		t.Fatalf("initial run with InitialActions queued %d actions, %d of them welcome messages; the report says %d",
			total, welcome, out.Report.ActionsTotal)
	}
}

// An apply repeated with the same facts and as-of time changes nothing
// and queues nothing, even when the first one moved customers and queued
// actions; its run record says so.
func testReapply(t *testing.T, nb func(t *testing.T) Backend) {
	e := newEnv(t, nb, 2000)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	e.applyAt(rs, day(0), o)
	ShiftFacts(t, e.s.DB())

	first := e.applyAt(rs, day(1), o)
	if first.Report.Changed == 0 || first.Report.ActionsTotal == 0 {
		t.Fatalf("first apply after the shift: changed=%d actions=%d, want both > 0", first.Report.Changed, first.Report.ActionsTotal)
	}
	if got := e.count(`SELECT count(*) FROM {actions}`); got != first.Report.ActionsTotal {
		t.Fatalf("the queue holds %d actions, the report says %d", got, first.Report.ActionsTotal)
	}
	before := e.stateDigest()
	second := e.applyAt(rs, day(1), o)
	if second.Report.Initial || second.Report.HasChanges() {
		t.Fatalf("second apply: initial=%v changed=%d actions=%d, want nothing", second.Report.Initial, second.Report.Changed, second.Report.ActionsTotal)
	}
	SameDigests(t, "state after a repeated apply", e.stateDigest(), before)
	e.noDuplicateActions()
	var changed, actions int
	e.scan(`SELECT changed, actions FROM {runs} WHERE id = $1 AND status = 'succeeded'`, []any{second.RunID}, &changed, &actions)
	if changed != 0 || actions != 0 {
		t.Fatalf("run record of the repeated apply: changed=%d actions=%d", changed, actions)
	}
}

// After the facts change, an apply writes each move to history exactly
// as the report counts them, updates the assignments to the report's
// segment sizes, and queues the actions the report counts, with their
// payloads, priorities, due times and idempotency keys.
func testMoves(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 2000)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	e.applyAt(rs, day(0), o)
	ShiftFacts(t, e.s.DB())
	out := e.applyAt(rs, day(1), o)
	r := out.Report

	moves := 0
	for _, sr := range r.Segmentations {
		moves += sr.Moved
		for _, m := range sr.Moves {
			got := e.count(`SELECT count(*) FROM {history} WHERE run_id = $1 AND segmentation = $2 AND from_segment = $3 AND to_segment = $4`,
				out.RunID, sr.Name, m.From, m.To)
			if got != m.Count {
				t.Errorf("history of %s moves %s -> %s: %d rows, the report says %d", sr.Name, m.From, m.To, got, m.Count)
			}
		}
	}
	if got := e.count(`SELECT count(*) FROM {history} WHERE run_id = $1`, out.RunID); got != moves || moves == 0 {
		t.Fatalf("history holds %d moves of the run, the report %d", got, moves)
	}
	if got := e.count(`SELECT count(*) FROM {history} WHERE run_id = $1 AND as_of <> (SELECT as_of FROM {runs} WHERE id = $1)`, out.RunID); got != 0 {
		t.Fatalf("%d moves are not dated at the run's as-of", got)
	}
	e.sameSegmentSizes(r)
	if got := e.count(`SELECT count(*) FROM {assignments} WHERE run_id = $1`, out.RunID); got < moves {
		t.Fatalf("%d assignments carry the run's id, fewer than its %d moves", got, moves)
	}

	for _, ar := range r.Actions {
		if got := e.count(`SELECT count(*) FROM {actions} WHERE action = $1 AND run_id = $2 AND status = 'pending'`, ar.Name, out.RunID); got != ar.Count {
			t.Errorf("the queue holds %d pending %s, the report says %d", got, ar.Name, ar.Count)
		}
	}
	calls, err := e.s.Actions(ctx, kernel.ActionFilter{RuleSet: "retail", Action: "winback_call", Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	welcomes, err := e.s.Actions(ctx, kernel.ActionFilter{Action: "onboarding_message", Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 || len(welcomes) == 0 {
		t.Fatalf("queued %d win-back calls and %d welcome messages; the shift should queue both", len(calls), len(welcomes))
	}
	for _, q := range calls {
		var p struct{ Owner, Tier, Reason string }
		decode(t, q, &p)
		if p.Owner != "account_manager" || (p.Tier != "vip" && p.Tier != "key") || len(p.Reason) < len("Spend fell ") || p.Reason[:11] != "Spend fell " {
			t.Fatalf("win-back call payload %s", q.Payload)
		}
		checkQueued(t, q, out.RunID, 1, day(2))
	}
	for _, q := range welcomes {
		var p struct{ Template, Channel string }
		decode(t, q, &p)
		id, _ := strconv.Atoi(q.Customer)
		if p.Template != "welcome_series" || p.Channel == "" || p.Channel == Generated(id).Channel {
			t.Fatalf("welcome message payload %s for customer %s, whose channel changed from %s", q.Payload, q.Customer, Generated(id).Channel)
		}
		checkQueued(t, q, out.RunID, 5, day(1))
	}
	lastQueued := e.count(`SELECT count(*) FROM {action_last} l JOIN {actions} a
		ON a.ruleset = l.ruleset AND a.action = l.action AND a.customer_key = l.customer_key AND a.created_at = l.queued_at`)
	if lastQueued != r.ActionsTotal {
		t.Fatalf("action_last has %d entries matching a queued action, want %d", lastQueued, r.ActionsTotal)
	}
	e.checkGrace(rs, o)
}

// checkGrace drops the spend of every VIP and key customer: their tier's
// downgrade grace keeps them where they are, and records when it
// started, but they do not move, so history has nothing for them.
func (e *env) checkGrace(rs *rules.RuleSet, o jobs.Options) {
	e.t.Helper()
	e.exec(`UPDATE customer_facts SET spend_12m = 5 WHERE spend_12m >= 10000`)
	out := e.applyAt(rs, day(2), o)
	pending := e.count(`SELECT count(*) FROM {assignments} WHERE segmentation = 'value_tier' AND segment IN ('vip', 'key')
		AND run_id = $1 AND pending_since = (SELECT as_of FROM {runs} WHERE id = $1)`, out.RunID)
	if pending == 0 {
		e.t.Fatal("no VIP or key customer started a downgrade grace")
	}
	moves := 0
	for _, sr := range out.Report.Segmentations {
		moves += sr.Moved
		if got := e.count(`SELECT count(*) FROM {history} WHERE run_id = $1 AND segmentation = $2`, out.RunID, sr.Name); got != sr.Moved {
			e.t.Fatalf("history holds %d moves in %s, the report %d", got, sr.Name, sr.Moved)
		}
	}
	if got := e.count(`SELECT count(*) FROM {history} WHERE run_id = $1`, out.RunID); got != moves {
		e.t.Fatalf("history holds %d moves of the run, the report %d", got, moves)
	}
}

func decode(t *testing.T, q kernel.QueuedAction, v any) {
	t.Helper()
	if err := json.Unmarshal(q.Payload, v); err != nil {
		t.Fatalf("payload %s of action %d: %v", q.Payload, q.ID, err)
	}
}

// checkQueued checks a queue row's bookkeeping.
func checkQueued(t *testing.T, q kernel.QueuedAction, run int64, priority int, due time.Time) {
	t.Helper()
	key := kernel.IdempotencyKey(q.RuleSet, q.Action, q.Customer, day(1))
	if q.RunID != run || q.Priority != priority || !q.DueAt.Equal(due) || !q.CreatedAt.Equal(day(1)) ||
		q.Status != "pending" || q.Attempts != 0 || q.LastError != nil || q.Idempotent != key {
		t.Fatalf("queued %s for %s: %+v; want run %d, priority %d, due %s, created %s, pending, key %s",
			q.Action, q.Customer, q, run, priority, due, day(1), key)
	}
}

// The queue's idempotency key makes an apply retried at the same as-of
// queue each action once, even for an action without a cooldown whose
// condition still holds on the rerun.
func testIdempotencyKey(t *testing.T, nb func(t *testing.T) Backend) {
	e := newEnv(t, nb, 1000)
	rs := RetailRuleSet(t, "    cooldown: 365d\n", "")
	o := Options()
	o.Guard.AllowLarge = true
	o.InitialActions = true
	e.exec(`UPDATE customer_facts SET first_order_at = '2024-06-20' WHERE customer_id % 10 = 0`)
	first := e.applyAt(rs, day(0), o)
	queued := e.count(`SELECT count(*) FROM {actions} WHERE action = 'onboarding_message'`)
	if queued == 0 || queued != first.Report.Actions[1].Count {
		t.Fatalf("first apply queued %d welcome messages, the report says %d", queued, first.Report.Actions[1].Count)
	}
	// Forget the state, as if the first apply's state were lost but its
	// queue kept: the rerun fires every welcome message again.
	e.exec(`DELETE FROM {customer_state}`)
	rerun := e.applyAt(rs, day(0), o)
	if n := rerun.Report.Actions[1].Count; n != queued {
		t.Fatalf("the rerun fired %d welcome messages, want the same %d as the first run", n, queued)
	}
	if got := e.count(`SELECT count(*) FROM {actions} WHERE action = 'onboarding_message'`); got != queued {
		t.Fatalf("after the rerun the queue holds %d welcome messages, want %d", got, queued)
	}
	if got := e.count(`SELECT count(*) FROM {actions} WHERE run_id = $1`, rerun.RunID); got != 0 {
		t.Fatalf("the rerun queued %d rows of its own", got)
	}
	e.noDuplicateActions()
}

// Cooldowns hold across runs: they are read from the queue's record
// (action_last), not from the current run. A VIP who re-enters at_risk
// 20 days after a win-back call is not called again; 40 days after, they
// are.
func testCooldown(t *testing.T, nb func(t *testing.T) Backend) {
	e := newEnv(t, nb, 0)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard = jobs.Guard{MaxErrorRate: 0} // two customers: any move is a large share
	vip := Customer{ID: 1, Spend: 60000, Prev: 55000, Orders: 10, FirstOrder: "2020-01-01", LastOrder: "2024-06-25T00:00:00Z", Channel: "online"}
	other := Customer{ID: 2, Spend: 500, Prev: 400, Orders: 1, FirstOrder: "2020-01-01", LastOrder: "2024-06-25T00:00:00Z", Channel: "store"}
	vip.put(e)
	other.put(e)
	calls := func() int {
		return e.count(`SELECT count(*) FROM {actions} WHERE customer_key = '1' AND action = 'winback_call'`)
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
		vip.Prev = 55000
		if st.risky {
			vip.Prev = 130000 // spend below half of last year's
		}
		vip.put(e)
		e.applyAt(rs, day(st.day), o)
		var lifecycle string
		e.scan(`SELECT segment FROM {assignments} WHERE customer_key = '1' AND segmentation = 'lifecycle'`, nil, &lifecycle)
		if got := calls(); got != st.wantCalls || lifecycle != st.wantState {
			t.Fatalf("day %d: customer 1 is %s with %d win-back calls, want %s with %d", st.day, lifecycle, got, st.wantState, st.wantCalls)
		}
	}
	e.noDuplicateActions()
	if got := e.count(`SELECT count(*) FROM {actions} WHERE customer_key <> '1'`); got != 0 {
		t.Fatalf("%d actions queued for customers that did nothing", got)
	}
	c, err := jobs.FindCustomer(context.Background(), e.s, e.f, rs, "1", jobs.At(day(41)))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.State.LastActions) != len(rs.Actions) || !c.State.LastActions[0].Equal(day(41)) {
		t.Fatalf("customer 1's last win-back call: %v, want %s", c.State.LastActions, day(41))
	}
}

// An empty facts table (a load that failed outright) changes nothing:
// the guard refuses it against the last successful run, and even with
// AllowLarge customers missing from the source keep their state and get
// no actions.
func testEmptyFacts(t *testing.T, nb func(t *testing.T) Backend) {
	e := newEnv(t, nb, 500)
	rs := RetailRuleSet(t)
	e.applyAt(rs, day(0), Options())
	e.exec(`DELETE FROM customer_facts`)
	before := e.stateDigest()
	o := jobs.Options{AsOf: day(1), Guard: jobs.DefaultGuard}
	_, err := jobs.Apply(context.Background(), e.s, e.f, rs, o)
	if !errors.Is(err, jobs.ErrBlocked) || !strings.Contains(err.Error(), "the facts source returned 0 customers") {
		t.Fatalf("apply on an empty facts table: %v, want ErrBlocked naming the empty source", err)
	}
	SameDigests(t, "state after a blocked apply on an empty facts table", e.stateDigest(), before)
	o.Guard.AllowLarge = true
	out, err := jobs.Apply(context.Background(), e.s, e.f, rs, o)
	if err != nil {
		t.Fatalf("apply on an empty facts table with AllowLarge: %v", err)
	}
	if out.Report.Customers != 0 || out.Report.HasChanges() {
		t.Fatalf("apply on an empty facts table: %d customers, changed %d, actions %d",
			out.Report.Customers, out.Report.Changed, out.Report.ActionsTotal)
	}
	SameDigests(t, "state after an apply on an empty facts table", e.stateDigest(), before)
}
