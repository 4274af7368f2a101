package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

var stateApplyCases = []stateCase{
	{"initial apply assigns everyone without actions", testStateInitialApply},
	{"re-apply at the same as-of changes nothing and queues nothing", testStateReapply},
	{"moves write history and queue actions as the plan predicted", testStateMoves},
	{"an action fired again at the same as-of is queued once", testStateIdempotency},
	{"cooldown holds across runs", testStateCooldown},
	{"a blocking guard writes nothing and the run is recorded blocked", testStateGuard},
	{"facts arriving in any order give the same state", testStateShuffled},
}

// The first run assigns everyone, without the max_moved guard, dates
// every assignment at its as-of, records each in history as a first
// assignment and queues no actions; the plan before it said so, and the
// run record agrees.
func testStateInitialApply(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 1000)
	e.f.update(func(c *Customer) {
		if c.ID%10 == 0 {
			c.FirstOrder = "2024-06-20" // new customers, whose welcome must not fire
		}
	})
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard = jobs.Guard{MaxMovedShare: 0.01, MaxActions: 1, MaxErrorRate: 0.01}
	plan := e.planAt(rs, day(0), o)
	out := e.applyAt(rs, day(0), o)
	for _, r := range []*jobs.PlanReport{plan, out.Report} {
		if !r.Initial || r.Guard.Blocked || r.Customers != 1000 || r.Changed != 1000 || r.ActionsTotal != 0 {
			t.Fatalf("%s: initial=%v blocked=%v customers=%d changed=%d actions=%d, want initial, not blocked, 1000 customers all changed, no actions",
				r.Mode, r.Initial, r.Guard.Blocked, r.Customers, r.Changed, r.ActionsTotal)
		}
	}
	samePlan(t, plan, out.Report)
	if q := e.queue(kernel.ActionFilter{}); len(q) != 0 {
		t.Fatalf("the initial run queued %d actions, want none (InitialActions is off)", len(q))
	}
	st, initial := states(t, e.s, rs, e.f.keys())
	if initial {
		t.Fatal("the state is still initial after the first apply")
	}
	for key, s := range st {
		if len(s.Segments) != len(rs.Segmentations) || len(s.LastActions) != len(rs.Actions) {
			t.Fatalf("customer %s: state %+v, want one entry per segmentation and per action", key, s)
		}
		for i, a := range s.Segments {
			if a.Segment == "" || !a.Since.Equal(day(0)) || !a.PendingSince.IsZero() || !s.LastActions[i].IsZero() {
				t.Fatalf("customer %s: state %+v; want every segment since %s, nothing pending, no action", key, s, day(0))
			}
		}
	}
	sameSizes(t, rs, st, out.Report)
	for _, key := range e.f.keys() {
		h := e.history(retailName, key)
		if len(h) != len(rs.Segmentations) {
			t.Fatalf("history of customer %s: %+v, want one first assignment per segmentation", key, h)
		}
		for i, m := range h {
			idx := segmentation(rs, m.Segmentation)
			if m.RuleSet != retailName || m.From != nil || idx < 0 || m.To != st[key].Segments[idx].Segment ||
				m.RunID != out.RunID || !m.AsOf.Equal(day(0)) || m.Matched == "" || m.Reason == "" || (i > 0 && m.ID <= h[i-1].ID) {
				t.Fatalf("first assignment %+v of customer %s: want retail, no previous segment, the assigned segment, run %d, as of %s, matched and reason, oldest first",
					m, key, out.RunID, day(0))
			}
		}
	}
	if all := e.history("", "3"); len(all) != len(rs.Segmentations) {
		t.Fatalf("history of customer 3 in every rule set: %d entries", len(all))
	}
	if none := e.history(retailName, "no-such-customer"); len(none) != 0 {
		t.Fatalf("history of an unknown customer: %+v", none)
	}
	runs := e.runs(retailName)
	if len(runs) != 1 {
		t.Fatalf("%d runs recorded, want 1", len(runs))
	}
	r := runs[0]
	if r.ID != out.RunID || r.Status != "succeeded" || r.Kind != "apply" || r.RulesHash != rs.Hash || !r.AsOf.Equal(day(0)) || r.Slot != nil ||
		r.Finished == nil || r.Error != nil || r.Customers != 1000 || r.Changed != 1000 || r.Actions != 0 || r.Errors != 0 {
		t.Fatalf("run record %+v: want run %d, succeeded, apply, as of %s, 1000 customers changed, no action, no error", r, out.RunID, day(0))
	}
	if again := e.planAt(rs, day(0), o); again.Initial || again.HasChanges() {
		t.Fatalf("the plan after the first run: initial=%v changed=%d actions=%d, want neither", again.Initial, again.Changed, again.ActionsTotal)
	}
}

// segmentation returns the index of rs's segmentation called name, or
// -1.
func segmentation(rs *rules.RuleSet, name string) int {
	for i, s := range rs.Segmentations {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// An apply repeated with the same facts and as-of changes nothing and
// queues nothing, even when the first moved customers and queued
// actions; its run record says so.
func testStateReapply(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 1000)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	e.applyAt(rs, day(0), o)
	e.f.shift()
	first := e.applyAt(rs, day(1), o)
	if first.Report.Changed == 0 || first.Report.ActionsTotal == 0 {
		t.Fatalf("first apply after the shift: changed=%d actions=%d, want both > 0", first.Report.Changed, first.Report.ActionsTotal)
	}
	before := e.view(rs, true)
	second := e.applyAt(rs, day(1), o)
	if second.Report.Initial || second.Report.HasChanges() {
		t.Fatalf("second apply: initial=%v changed=%d actions=%d, want nothing", second.Report.Initial, second.Report.Changed, second.Report.ActionsTotal)
	}
	SameDigests(t, "state after a repeated apply", e.view(rs, true), before)
	if r := e.runByID(second.RunID); r.Status != "succeeded" || r.Changed != 0 || r.Actions != 0 || r.Customers != 1000 {
		t.Fatalf("run record of the repeated apply: %+v", r)
	}
}

// After the facts change, the plan predicts the apply exactly; the apply
// writes each move to history with its from and to segments as the
// report counts them, and queues the actions it counts with their
// payloads, priorities, due times and idempotency keys, which the queue
// lists most urgent first. A drop in spend then starts downgrade graces
// without moves.
func testStateMoves(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 1000)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	first := e.applyAt(rs, day(0), o)
	e.f.shift()
	plan := e.planAt(rs, day(1), o)
	out := e.applyAt(rs, day(1), o)
	samePlan(t, plan, out.Report)
	if moves := e.checkMoves(out, day(1)); moves == 0 {
		t.Fatal("the shift moved no one")
	}
	sameSizes(t, rs, e.states(rs), out.Report)
	e.checkQueue(rs, out)
	if runs := e.runs(""); len(runs) != 2 || runs[0].ID != out.RunID || runs[1].ID != first.RunID {
		t.Fatalf("Runs lists %+v, want runs %d and %d, newest first", runs, out.RunID, first.RunID)
	}

	e.f.update(func(c *Customer) {
		if c.Spend >= 10000 {
			c.Spend = 5
		}
	})
	grace := e.applyAt(rs, day(2), o)
	e.checkMoves(grace, day(2))
	pending := 0
	for _, s := range e.states(rs) {
		if a := s.Segments[0]; (a.Segment == "vip" || a.Segment == "key") && a.PendingSince.Equal(day(2)) {
			pending++
		}
	}
	if pending == 0 {
		t.Fatal("no VIP or key customer started a downgrade grace")
	}
}

// checkMoves checks that history holds exactly the moves the run's
// report counts, dated at its as-of, and returns their number.
func (e *stateEnv) checkMoves(out *jobs.Outcome, at time.Time) int {
	e.t.Helper()
	type move struct{ seg, from, to string }
	got := map[move]int{}
	for _, key := range e.f.keys() {
		for _, h := range e.history(retailName, key) {
			if h.RunID != out.RunID {
				continue
			}
			if h.From == nil || *h.From == h.To || !h.AsOf.Equal(at) {
				e.t.Fatalf("move %+v of customer %s: want a previous segment other than the new one, as of %s", h, key, at)
			}
			got[move{h.Segmentation, *h.From, h.To}]++
		}
	}
	want := map[move]int{}
	moves := 0
	for _, sr := range out.Report.Segmentations {
		moves += sr.Moved
		for _, m := range sr.Moves {
			want[move{sr.Name, m.From, m.To}] = m.Count
		}
	}
	if len(got) != len(want) {
		e.t.Fatalf("history holds the moves %v, the report %v", got, want)
	}
	for m, n := range want {
		if got[m] != n {
			e.t.Fatalf("history of %s moves %s -> %s: %d, the report says %d", m.seg, m.from, m.to, got[m], n)
		}
	}
	return moves
}

// checkQueue checks the queue an apply after the shift filled.
func (e *stateEnv) checkQueue(rs *rules.RuleSet, out *jobs.Outcome) {
	t := e.t
	t.Helper()
	r := out.Report
	queue := e.queue(kernel.ActionFilter{RuleSet: retailName})
	if len(queue) != r.ActionsTotal {
		t.Fatalf("the queue holds %d actions, the report says %d", len(queue), r.ActionsTotal)
	}
	for _, ar := range r.Actions {
		if got := e.queue(kernel.ActionFilter{Action: ar.Name, Status: "pending"}); len(got) != ar.Count {
			t.Fatalf("the queue holds %d pending %s, the report says %d", len(got), ar.Name, ar.Count)
		}
	}
	calls := e.queue(kernel.ActionFilter{RuleSet: retailName, Action: "winback_call"})
	welcomes := e.queue(kernel.ActionFilter{Action: "onboarding_message"})
	if len(calls) == 0 || len(welcomes) == 0 {
		t.Fatalf("queued %d win-back calls and %d welcome messages; the shift should queue both", len(calls), len(welcomes))
	}
	st := e.states(rs)
	for _, q := range calls {
		var p struct{ Owner, Tier, Reason string }
		decode(t, q, &p)
		if p.Owner != "account_manager" || (p.Tier != "vip" && p.Tier != "key") || !strings.HasPrefix(p.Reason, "Spend fell ") {
			t.Fatalf("win-back call payload %s", q.Payload)
		}
		checkQueued(t, q, out.RunID, 1, day(2))
		if last := st[q.Customer].LastActions[0]; !last.Equal(day(1)) {
			t.Fatalf("customer %s's last win-back call is %s, want %s", q.Customer, last, day(1))
		}
	}
	for _, q := range welcomes {
		var p struct{ Template, Channel string }
		decode(t, q, &p)
		c, _ := e.f.customer(q.Customer)
		if p.Template != "welcome_series" || p.Channel != c.Channel {
			t.Fatalf("welcome message payload %s for customer %s, whose channel is now %s", q.Payload, q.Customer, c.Channel)
		}
		checkQueued(t, q, out.RunID, 5, day(1))
		if last := st[q.Customer].LastActions[1]; !last.Equal(day(1)) {
			t.Fatalf("customer %s's last welcome message is %s, want %s", q.Customer, last, day(1))
		}
	}
	for i := 1; i < len(queue); i++ {
		a, b := queue[i-1], queue[i]
		if a.Priority > b.Priority || (a.Priority == b.Priority && (a.DueAt.After(b.DueAt) || (a.DueAt.Equal(b.DueAt) && a.ID > b.ID))) {
			t.Fatalf("the queue is not most urgent first at %d: action %d (priority %d, due %s) before action %d (priority %d, due %s)",
				i, a.ID, a.Priority, a.DueAt, b.ID, b.Priority, b.DueAt)
		}
	}
	if def := e.queue(kernel.ActionFilter{Limit: -1}); len(def) != min(50, len(queue)) || def[0].ID != queue[0].ID {
		t.Fatalf("Actions with the default limit: %d rows", len(def))
	}
	one := queue[len(queue)-1]
	got := e.queue(kernel.ActionFilter{RuleSet: retailName, Action: one.Action, Customer: one.Customer, Status: "pending"})
	if len(got) != 1 || got[0].ID != one.ID || string(got[0].Payload) != string(one.Payload) {
		t.Fatalf("Actions filtered to action %d: %+v", one.ID, got)
	}
	for _, f := range []kernel.ActionFilter{{Status: "done"}, {RuleSet: copyName}, {Action: "no_such_action"}, {Customer: "no-such-customer"}} {
		if got := e.queue(f); len(got) != 0 {
			t.Fatalf("Actions(%+v) = %+v; want none", f, got)
		}
	}
}

// An action without a cooldown whose condition still holds fires again
// when its run is repeated at the same as-of; the queue's idempotency
// key keeps one row per customer, action and as-of, and a later as-of
// queues it anew.
func testStateIdempotency(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 1000)
	e.f.update(func(c *Customer) {
		if c.ID%10 == 0 {
			c.FirstOrder = "2024-06-20"
		}
	})
	// A welcome for every customer still new, on every run.
	rs := RetailRuleSet(t, "    when: entered(\"lifecycle\", \"new\")\n    cooldown: 365d\n", "    when: segment.lifecycle == \"new\"\n")
	o := Options()
	o.Guard.AllowLarge = true
	o.InitialActions = true
	first := e.applyAt(rs, day(0), o)
	welcome := first.Report.Actions[1].Count
	if got := len(e.queue(kernel.ActionFilter{Action: "onboarding_message"})); welcome == 0 || got != welcome {
		t.Fatalf("the first apply queued %d welcome messages, the report says %d", got, welcome)
	}
	rerun := e.applyAt(rs, day(0), o)
	if n := rerun.Report.Actions[1].Count; n != welcome {
		t.Fatalf("the rerun fired %d welcome messages, want the same %d", n, welcome)
	}
	if got := e.queue(kernel.ActionFilter{Action: "onboarding_message"}); len(got) != welcome {
		t.Fatalf("after the rerun the queue holds %d welcome messages, want %d", len(got), welcome)
	}
	for _, q := range e.queue(kernel.ActionFilter{}) {
		if q.RunID == rerun.RunID {
			t.Fatalf("the rerun queued %+v of its own", q)
		}
	}
	later := e.applyAt(rs, day(1), o)
	if got := len(e.queue(kernel.ActionFilter{Action: "onboarding_message"})); got != welcome+later.Report.Actions[1].Count {
		t.Fatalf("after a run a day later the queue holds %d welcome messages, want %d + %d", got, welcome, later.Report.Actions[1].Count)
	}
	e.view(rs, true) // fails on a repeated idempotency key
}

// Cooldowns hold across runs: they are read from the store's record of
// when each action was last queued. A VIP who re-enters at_risk 20 days
// after a win-back call is not called again; 40 days after, they are.
func testStateCooldown(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 0)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard = jobs.Guard{MaxErrorRate: 0} // two customers: any move is a large share
	vip := Customer{ID: 1, Spend: 60000, Prev: 55000, Orders: 10, FirstOrder: "2020-01-01", LastOrder: "2024-06-25T00:00:00Z", Channel: "online"}
	e.f.put(vip)
	e.f.put(Customer{ID: 2, Spend: 500, Prev: 400, Orders: 1, FirstOrder: "2020-01-01", LastOrder: "2024-06-25T00:00:00Z", Channel: "store"})
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
		e.f.put(vip)
		e.applyAt(rs, day(st.day), o)
		calls := e.queue(kernel.ActionFilter{Customer: "1", Action: "winback_call"})
		lifecycle := e.states(rs)["1"].Segments[1].Segment
		if len(calls) != st.wantCalls || lifecycle != st.wantState {
			t.Fatalf("day %d: customer 1 is %s with %d win-back calls, want %s with %d", st.day, lifecycle, len(calls), st.wantState, st.wantCalls)
		}
	}
	if got := e.queue(kernel.ActionFilter{Customer: "2"}); len(got) != 0 {
		t.Fatalf("%d actions queued for a customer that did nothing", len(got))
	}
	c, err := jobs.FindCustomer(context.Background(), e.s, e.f, rs, "1", jobs.At(day(41)))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.State.LastActions) != len(rs.Actions) || !c.State.LastActions[0].Equal(day(41)) {
		t.Fatalf("customer 1's last win-back call: %v, want %s", c.State.LastActions, day(41))
	}
	e.view(rs, true)
}

// A zeroed facts load must not reclassify everyone: the apply refuses,
// writes nothing (state, history and queue are as before) and records
// the run as blocked, with why; AllowLarge then lets it through.
func testStateGuard(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 1000)
	rs := RetailRuleSet(t)
	e.applyAt(rs, day(0), Options())
	e.f.zero()
	before := e.view(rs, true)
	o := Options()
	o.AsOf = day(1)
	out, err := jobs.Apply(context.Background(), e.s, e.f, rs, o)
	if !errors.Is(err, jobs.ErrBlocked) || !strings.Contains(err.Error(), "would change segment") {
		t.Fatalf("apply on zeroed facts: %v, want ErrBlocked naming the moved share", err)
	}
	if out == nil || out.Report == nil || !out.Report.Guard.Blocked || out.Report.Changed < 400 {
		t.Fatalf("blocked apply: %+v; want its report", out)
	}
	SameDigests(t, "state after a blocked apply", e.view(rs, true), before)
	r := e.runByID(out.RunID)
	if r.Status != "blocked" || r.Error == nil || !strings.Contains(*r.Error, "would change segment") || !strings.Contains(*r.Error, "--allow-large-change") ||
		r.Customers != 1000 || r.Changed != int64(out.Report.Changed) || r.Finished == nil {
		t.Fatalf("run record of the blocked apply: %+v", r)
	}
	if plan := e.planAt(rs, day(1), o); !plan.Guard.Blocked || plan.Changed != out.Report.Changed {
		t.Fatalf("the plan after a blocked apply: blocked=%v changed=%d, want the same as the apply", plan.Guard.Blocked, plan.Changed)
	}
	o.Guard.AllowLarge = true
	if passed := e.applyAt(rs, day(1), o); passed.Report.Changed != out.Report.Changed {
		t.Fatalf("apply with AllowLarge changed %d customers, the blocked one would have changed %d", passed.Report.Changed, out.Report.Changed)
	}
	if got := e.runStatuses(); got["succeeded"] != 2 || got["blocked"] != 1 || len(got) != 2 {
		t.Fatalf("run statuses %v", got)
	}
}

// The same facts read in another order, in batches of another size, on
// every pass, give the same state, history and queue: the store matches
// state to facts by customer key.
func testStateShuffled(t *testing.T, ns func(t *testing.T) StateBackend) {
	rs := RetailRuleSet(t)
	var views []map[string]string
	for i, batch := range []int{100, 37} {
		e := newStateEnv(t, ns, 1000)
		o := Options()
		o.Guard.AllowLarge = true
		o.BatchSize, o.Workers = batch, 1+i*2
		if i > 0 {
			e.f.shuffle(uint64(i))
		}
		e.applyAt(rs, day(0), o)
		e.f.shift()
		e.applyAt(rs, day(1), o)
		e.f.update(func(c *Customer) {
			if c.ID%7 == 0 {
				c.Spend, c.Orders = c.Spend/10, c.Orders/2
			}
		})
		e.applyAt(rs, day(40), o)
		views = append(views, e.view(rs, false))
	}
	SameDigests(t, "state from shuffled facts against facts in key order", views[1], views[0])
}
