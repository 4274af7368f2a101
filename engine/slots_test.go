package engine_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// evaluators are one rule set's engines: with the compiled fast path's
// slot programs, with its map programs (the fast path without slot
// programs), and rule by rule with each expression's map program.
func evaluators(rs *rules.RuleSet) map[string]*engine.Engine {
	mapFast, byRule := *rs, *rs
	mapFast.Fast = &rules.FastPath{Segmentations: rs.Fast.Segmentations, Actions: rs.Fast.Actions}
	byRule.Fast = nil
	return map[string]*engine.Engine{"map programs": engine.New(&mapFast), "rule by rule": engine.New(&byRule)}
}

// The slot environment changes nothing a customer's evaluation gives:
// results, rule errors and explanations (with the values each condition
// read) are those of the map environment, for customers who move, stay,
// fail, leave the facts source, are covered or not.
func TestSlotEnvironmentAgrees(t *testing.T) {
	t.Parallel()
	retail := loadRetail(t)
	errs := compile(t, errorRules)
	left := compile(t, leftRules)
	sets := []struct {
		name string
		rs   *rules.RuleSet
		pool []*engine.Customer
	}{
		{"retail", retail, withFollowUps(retail, retailPool(retail, 1500, 7))},
		{"runtime errors", errs, []*engine.Customer{
			customer(t, errs, "null", in{facts: map[string]any{"score": nil, "spend": 150, "prev_spend": 100}}),
			customer(t, errs, "zero", in{facts: map[string]any{"score": 60, "spend": 150, "prev_spend": 0}}),
			customer(t, errs, "fine", in{facts: map[string]any{"score": 10, "spend": 50, "prev_spend": 40}}),
			customer(t, errs, "big", in{facts: map[string]any{"score": 70, "spend": 500, "prev_spend": 40},
				prev: map[string]engine.Assignment{"tier": {Segment: "small", Since: date("2024-01-01")}}}),
		}},
		{"leaving", left, []*engine.Customer{
			absent(t, left, "gone vip", map[string]engine.Assignment{"value_tier": {Segment: "vip", Since: date("2023-07-01")}}, nil),
			absent(t, left, "gone", nil, nil),
			customer(t, left, "here", in{facts: map[string]any{"spend": 2000, "last_order_at": date("2024-06-01")}}),
			customer(t, left, "lapsed", in{facts: map[string]any{"spend": 20, "last_order_at": nil},
				prev: map[string]engine.Assignment{"lifecycle": {Segment: "active", Since: date("2024-01-01")}}}),
		}},
	}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			t.Parallel()
			slot := engine.New(set.rs)
			others := evaluators(set.rs)
			errors := 0
			for _, c := range set.pool {
				want := slot.Evaluate(retailAsOf, c)
				wantTrace := slot.Explain(retailAsOf, c)
				errors += len(want.Errors)
				// Only slot programs record wake-up times (map programs
				// wake on every run: TestWakeMapPrograms).
				want.Wake, wantTrace.Result.Wake = time.Time{}, time.Time{}
				for name, e := range others {
					got := e.Evaluate(retailAsOf, c)
					gotTrace := e.Explain(retailAsOf, c)
					got.Wake, gotTrace.Result.Wake = time.Time{}, time.Time{}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("%s: with slots\n%s\nwith %s\n%s", c.Key, dump(want), name, dump(got))
					}
					if got := gotTrace; !reflect.DeepEqual(got, wantTrace) {
						t.Fatalf("%s: explained with slots\n%s\nwith %s\n%s", c.Key, dump(wantTrace), name, dump(got))
					}
				}
			}
			if set.name == "runtime errors" && errors == 0 {
				t.Error("no customer failed a rule")
			}
		})
	}
}

// withFollowUps gives some of the pool's customers covering outcomes and
// recent contacts, so that coverage and contact limits are exercised.
func withFollowUps(rs *rules.RuleSet, pool []*engine.Customer) []*engine.Customer {
	for i, c := range pool {
		switch i % 4 {
		case 0:
			c.State.Outcomes = []engine.ActionOutcome{{Action: i % len(rs.Actions), Outcome: "reached", At: retailAsOf.Add(-time.Duration(i%60) * 24 * time.Hour)}}
		case 1:
			c.State.Contacts = []engine.Contact{{Action: i % len(rs.Actions), At: retailAsOf.Add(-time.Duration(i%9) * 24 * time.Hour)}}
		}
	}
	return pool
}

func dump(v any) string { return fmt.Sprintf("%+v", v) }
