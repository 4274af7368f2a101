package engine

import (
	"os"
	"testing"
	"time"

	"github.com/tierflow/tierflow/rules"
)

func compiledRetail(t *testing.T) *rules.RuleSet {
	t.Helper()
	src, err := os.ReadFile("../examples/retail/retail.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Compile("retail.yaml", src, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// New runs the slot programs of a compiled rule set, and the map
// programs when the fast path has none, or none that fit the rule set.
func TestNewPicksSlotPrograms(t *testing.T) {
	rs := compiledRetail(t)
	mapFast, byRule, changed := *rs, *rs, *rs
	mapFast.Fast = &rules.FastPath{Segmentations: rs.Fast.Segmentations, Actions: rs.Fast.Actions}
	byRule.Fast = nil
	changed.Segmentations = rs.Segmentations[:2] // and the fast path kept, against the rules
	changed.EvalOrder = []int{0, 1}
	for _, tt := range []struct {
		name    string
		rs      *rules.RuleSet
		slotted bool
	}{
		{"compiled", rs, true},
		{"fast path without slot programs", &mapFast, false},
		{"no fast path", &byRule, false},
		{"segmentations changed", &changed, false},
	} {
		e := New(tt.rs)
		if e.slotted != tt.slotted {
			t.Errorf("%s: slotted = %v, want %v", tt.name, e.slotted, tt.slotted)
		}
		w := e.newWorker()
		if tt.slotted && (w.m != nil || w.env != nil || len(w.vm.Variables) == 0 || &w.vm.Variables[0] != &w.vars[0]) {
			t.Errorf("%s: the worker does not run slot programs on its variables", tt.name)
		}
		if !tt.slotted && w.m == nil {
			t.Errorf("%s: the worker has no map environment", tt.name)
		}
	}
}

// Evaluating a customer who fires no action allocates nothing: no
// variable, day count or helper call of the environment allocates.
func TestEvaluateDoesNotAllocate(t *testing.T) {
	rs := compiledRetail(t)
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	row, err := rs.Facts.Row(map[string]any{
		"spend_12m": 60000.0, "spend_prev_12m": 0.0, "orders_12m": 10,
		"first_order_at": asOf.AddDate(-3, 0, 0), "last_order_at": asOf.AddDate(0, 0, -10), "channel": "online",
	})
	if err != nil {
		t.Fatal(err)
	}
	since := asOf.AddDate(-2, 0, 0)
	_, review := rs.Action("account_review")
	c := &Customer{Key: "vip", Facts: row, State: State{
		Segments: []Assignment{{Segment: "vip", Since: since}, {Segment: "active", Since: since}, {Segment: "online", Since: since}},
		Outcomes: []ActionOutcome{{Action: review, Outcome: "reached", At: asOf.AddDate(0, 0, -5)}},
	}}
	e := New(rs)
	w := e.newWorker()
	var res Result
	w.eval(asOf, c, &res, nil)
	if len(res.Actions)+len(res.Withheld)+len(res.Errors) != 0 || res.Segments[0].Segment != "vip" {
		t.Fatalf("the customer fires an action or fails: %+v", res)
	}
	if n := testing.AllocsPerRun(100, func() { w.eval(asOf, c, &res, nil) }); n != 0 {
		t.Errorf("%v allocations per customer, want 0", n)
	}
}
