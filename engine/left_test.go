package engine_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// leftRules moves customers who leave the facts source out of their
// segments; farewell and lapsed fire when they do, welcome and active
// never do for them.
const leftRules = `
ruleset: leaving
on_missing: exit
facts:
  spend: number
  last_order_at: time?
segmentations:
  - name: value_tier
    segments:
      - {name: vip, when: spend >= 1000}
      - {name: regular, fallback: true}
  - name: lifecycle
    segments:
      - {name: churned, when: is_null(last_order_at) || days_since(last_order_at) > 365}
      - {name: active, fallback: true}
actions:
  - name: farewell
    when: left("value_tier") && previous.value_tier == "vip" && segment.value_tier == ""
    cooldown: 30d
    payload:
      tier: =previous.value_tier
      days: =days_in_previous("value_tier")
  - name: welcome
    when: entered("value_tier", "vip")
  - name: active
    when: spend >= 0
    cooldown: 1d
  - name: lapsed
    when: left("lifecycle") && days_since(last_order_at) > 30
    cooldown: 30d
`

func absent(t *testing.T, rs *rules.RuleSet, key string, prev map[string]engine.Assignment, last map[string]time.Time) *engine.Customer {
	t.Helper()
	c := customer(t, rs, key, in{prev: prev, last: last})
	c.Absent = true
	// Whatever a reader left in the row is not read.
	c.Facts = []any{5000.0, date("2024-06-30")}
	return c
}

// A customer who left the facts source is not evaluated against any
// segment: it leaves each segmentation where it had a segment, keeps none
// where it had none, and only the actions that call left() are evaluated.
func TestAbsentCustomerLeaves(t *testing.T) {
	rs := compile(t, leftRules)
	e := engine.New(rs)
	since := date("2023-07-01")
	c := absent(t, rs, "gone", map[string]engine.Assignment{"value_tier": {Segment: "vip", Since: since, PendingSince: date("2024-06-01")}}, nil)
	for _, res := range []*engine.Result{e.Evaluate(asOf, c), e.Explain(asOf, c).Result} {
		if !res.Left {
			t.Errorf("Left = false")
		}
		if got, want := decision(t, rs, res, "value_tier"), (engine.Decision{Previous: "vip", Reason: engine.ReasonLeft}); got != want {
			t.Errorf("value_tier: %+v, want %+v", got, want)
		}
		if got := decision(t, rs, res, "lifecycle"); got != (engine.Decision{}) {
			t.Errorf("lifecycle, where it had no segment: %+v, want none", got)
		}
		if got := actionNames(res); !slices.Equal(got, []string{"farewell"}) {
			t.Fatalf("actions = %v, want farewell", got)
		}
		if p := res.Actions[0].Payload; !reflect.DeepEqual(p, map[string]any{"tier": "vip", "days": 366}) {
			t.Errorf("payload = %v", p)
		}
		// lapsed calls left("lifecycle"), false here, and is not reached
		// in its days_since of a null fact.
		if len(res.Errors) != 0 || !res.Changed() {
			t.Errorf("errors %v, changed %v", res.Errors, res.Changed())
		}
	}
}

// Cooldowns hold back left() actions as any other; an action that fails
// on the null facts reports them.
func TestAbsentCustomerActions(t *testing.T) {
	rs := compile(t, leftRules)
	e := engine.New(rs)
	prev := map[string]engine.Assignment{"value_tier": {Segment: "vip"}, "lifecycle": {Segment: "active"}}
	c := absent(t, rs, "gone", prev, map[string]time.Time{"farewell": asOf.Add(-24 * time.Hour)})
	res := e.Evaluate(asOf, c)
	if got := actionNames(res); len(got) != 0 {
		t.Errorf("actions = %v, want none (farewell in cooldown, lapsed failed)", got)
	}
	if len(res.Errors) != 1 || res.Errors[0].Rule != "actions.lapsed.when" {
		t.Fatalf("errors = %v, want one of lapsed", res.Errors)
	}
	if got, want := res.Errors[0].Message(), "days_since: argument is null (guard with is_null() or coalesce()) (last_order_at is null; previous.lifecycle = \"active\")"; got != want {
		t.Errorf("Message() = %q, want %q", got, want)
	}
	for _, name := range []string{"value_tier", "lifecycle"} {
		if d := decision(t, rs, res, name); d.Reason != engine.ReasonLeft || d.Segment != "" || d.Previous != prev[name].Segment {
			t.Errorf("%s: %+v", name, d)
		}
	}
}

// Present customers see left() false, on the fast path and off it, and
// nothing of an absent customer evaluated before them leaks into their
// results.
func TestAbsentDoesNotLeak(t *testing.T) {
	rs := compile(t, leftRules)
	e := engine.New(rs)
	prev := map[string]engine.Assignment{"value_tier": {Segment: "vip", Since: date("2023-01-01")}, "lifecycle": {Segment: "active"}}
	// lapsed would fire, were left("lifecycle") true for this customer.
	present := customer(t, rs, "here", in{facts: map[string]any{"spend": 50, "last_order_at": date("2024-01-01")}, prev: prev})
	gone := absent(t, rs, "gone", prev, nil)
	want := snapshot(e.Evaluate(asOf, present))
	if got := actionNames(&want); !slices.Equal(got, []string{"active"}) {
		t.Fatalf("present customer: actions %v, want active only", got)
	}
	if want.Left || decision(t, rs, &want, "value_tier").Segment != "regular" {
		t.Fatalf("present customer: %+v", want)
	}
	if got := snapshot(e.Explain(asOf, present).Result); !reflect.DeepEqual(got, want) {
		t.Errorf("slow path differs:\ngot  %+v\nwant %+v", got, want)
	}
	var res engine.Result
	for _, c := range []*engine.Customer{gone, present, gone, present} {
		e.EvaluateInto(asOf, c, &res)
		if c == gone {
			if !res.Left || len(res.Actions) != 1 {
				t.Errorf("absent customer: %+v", res)
			}
			continue
		}
		if got := snapshot(&res); !reflect.DeepEqual(got, want) {
			t.Errorf("present after absent:\ngot  %+v\nwant %+v", got, want)
		}
	}
}

// A plan counts a customer who left as changed, moving from its segment
// to "no segment", and counts it in Left.
func TestPlanCountsLeft(t *testing.T) {
	rs := compile(t, leftRules)
	e := engine.New(rs)
	p := engine.NewPlan(rs)
	gone := absent(t, rs, "gone", map[string]engine.Assignment{"value_tier": {Segment: "vip"}}, nil)
	p.Add(gone.Key, e.Evaluate(asOf, gone))
	never := absent(t, rs, "never", nil, nil)
	p.Add(never.Key, e.Evaluate(asOf, never))
	if p.Customers != 2 || p.Changed != 1 || p.Left != 2 {
		t.Errorf("customers %d, changed %d, left %d; want 2, 1, 2", p.Customers, p.Changed, p.Left)
	}
	tier := p.Segmentations[0]
	if got, want := tier.MovesList(), []engine.Move{{From: "vip", To: "", Count: 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("moves = %+v, want %+v", got, want)
	}
	if tier.Before[1] != 1 || tier.After[0] != 2 || tier.Moved() != 1 {
		t.Errorf("before %v, after %v", tier.Before, tier.After)
	}
	if got, want := p.Samples, []engine.Sample{{Key: "gone", Segmentation: "value_tier", From: "vip", Reason: engine.ReasonLeft}}; !reflect.DeepEqual(got, want) {
		t.Errorf("samples = %+v", got)
	}
	if p.Actions[0] != 1 {
		t.Errorf("farewell counted %d times", p.Actions[0])
	}
	merged := engine.NewPlan(rs)
	merged.Merge(p)
	merged.Merge(p)
	if merged.Left != 4 || merged.Changed != 2 {
		t.Errorf("merged: left %d, changed %d", merged.Left, merged.Changed)
	}
}

// Explain says the customer left the facts source, tries no segment and
// says why the other actions were not evaluated.
func TestExplainLeft(t *testing.T) {
	rs := compile(t, leftRules)
	c := absent(t, rs, "gone", map[string]engine.Assignment{"value_tier": {Segment: "vip"}}, nil)
	tr := engine.New(rs).Explain(asOf, c)
	tier := segTrace(t, tr, "value_tier")
	if tier.Note != "left the facts source: no longer in vip" || tier.Decision.Reason != engine.ReasonLeft {
		t.Errorf("value_tier: note %q, decision %+v", tier.Note, tier.Decision)
	}
	for _, rt := range tier.Tried {
		if rt.Outcome != engine.OutcomeNotReached {
			t.Errorf("value_tier tried %s: %s", rt.Segment, rt.Outcome)
		}
	}
	if life := segTrace(t, tr, "lifecycle"); life.Note != "left the facts source, with no segment here before" {
		t.Errorf("lifecycle note %q", life.Note)
	}
	if at := actTrace(t, tr, "farewell"); at.Outcome != engine.OutcomeFired {
		t.Errorf("farewell: %+v", at)
	}
	if at := actTrace(t, tr, "lapsed"); at.Outcome != engine.OutcomeFalse {
		t.Errorf("lapsed: %+v", at)
	}
	for _, name := range []string{"welcome", "active"} {
		at := actTrace(t, tr, name)
		if at.Outcome != engine.OutcomeNotReached || !strings.Contains(at.Why, "left the facts source") {
			t.Errorf("%s: %+v", name, at)
		}
	}
	var order []string
	for _, at := range tr.Actions {
		order = append(order, at.Name)
	}
	if got := strings.Join(order, " "); got != "farewell welcome active lapsed" {
		t.Errorf("actions traced in order %s", got)
	}
}

// AddUnchanged counts customers as Add counts each of them when they
// stay where they are: the same sizes, no move, no change.
func TestPlanAddUnchanged(t *testing.T) {
	rs := compile(t, leftRules)
	one, bulk := engine.NewPlan(rs), engine.NewPlan(rs)
	stays := []engine.Decision{{Assignment: engine.Assignment{Segment: "vip"}, Previous: "vip"}, {}}
	for range 3 {
		one.Add("k", &engine.Result{Segments: stays})
	}
	bulk.AddUnchanged([]string{"vip", ""}, 3)
	if !reflect.DeepEqual(one.Segmentations, bulk.Segmentations) || one.Customers != bulk.Customers || bulk.Changed != 0 {
		t.Errorf("AddUnchanged: customers %d, changed %d, %+v; Add: customers %d, %+v",
			bulk.Customers, bulk.Changed, bulk.Segmentations[0], one.Customers, one.Segmentations[0])
	}
}

// AddGroup counts customers as Add counts each of them: sizes, moves,
// churn by the previous segment, changed customers and queued actions.
func TestPlanAddGroup(t *testing.T) {
	rs := loadRetail(t)
	if rs.Churn == nil || len(rs.Segmentations) < 2 || len(rs.Actions) < 2 {
		t.Fatal("the retail example has no churn segment, or too few segmentations and actions")
	}
	churn, _ := rs.Segmentation(rs.Churn.Segmentation)
	other := rs.Segmentations[0]
	if other == churn {
		other = rs.Segmentations[1]
	}
	groups := []struct {
		prev, segs map[string]string
		queued     []bool
		n          int
	}{
		{map[string]string{churn.Name: churn.Segments[1].Name, other.Name: other.Segments[0].Name},
			map[string]string{churn.Name: rs.Churn.Segment, other.Name: other.Segments[1].Name}, []bool{true, false}, 3},
		{map[string]string{churn.Name: rs.Churn.Segment, other.Name: ""},
			map[string]string{churn.Name: rs.Churn.Segment, other.Name: other.Segments[0].Name}, []bool{false, true}, 2},
		{map[string]string{churn.Name: churn.Segments[0].Name}, map[string]string{churn.Name: churn.Segments[0].Name}, nil, 4},
	}
	one, bulk := engine.NewPlan(rs), engine.NewPlan(rs)
	for _, g := range groups {
		prev, segs := make([]string, len(rs.Segmentations)), make([]string, len(rs.Segmentations))
		res := engine.Result{Segments: make([]engine.Decision, len(rs.Segmentations))}
		for i, s := range rs.Segmentations {
			prev[i], segs[i] = g.prev[s.Name], g.segs[s.Name]
			res.Segments[i] = engine.Decision{Assignment: engine.Assignment{Segment: segs[i]}, Previous: prev[i]}
		}
		queued := make([]bool, len(rs.Actions))
		for k, q := range g.queued {
			queued[k] = q
			if q {
				res.Actions = append(res.Actions, engine.QueuedAction{Name: rs.Actions[k].Name})
			}
		}
		for range g.n {
			one.Add("k", &res)
		}
		bulk.AddGroup(prev, segs, queued, g.n)
	}
	churned := 0
	for _, n := range one.Segmentations[0].Churned {
		churned += n
	}
	if one.Changed != 5 || one.TotalActions() != 5 || churned != 3 {
		t.Fatalf("Add: %d changed, %d actions, %d churned; the groups have 5, 5 and 3", one.Changed, one.TotalActions(), churned)
	}
	if !reflect.DeepEqual(one.Segmentations, bulk.Segmentations) || one.Customers != bulk.Customers || one.Changed != bulk.Changed ||
		!reflect.DeepEqual(one.Actions, bulk.Actions) || len(bulk.Samples) != 0 {
		t.Errorf("AddGroup: customers %d, changed %d, actions %v, %+v\nAdd: customers %d, changed %d, actions %v, %+v",
			bulk.Customers, bulk.Changed, bulk.Actions, bulk.Segmentations, one.Customers, one.Changed, one.Actions, one.Segmentations)
	}
	for _, name := range []string{"matched", "fallback", "min_stay", "downgrade_grace", "error", "left", ""} {
		if r, ok := engine.ParseReason(name); !ok || r.String() != name {
			t.Errorf("ParseReason(%q) = %v, %v", name, r, ok)
		}
	}
	if _, ok := engine.ParseReason("sticky"); ok {
		t.Error(`ParseReason("sticky") found a reason`)
	}
}
