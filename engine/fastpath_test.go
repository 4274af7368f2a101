package engine_test

import (
	"reflect"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// A rule set without a fast path, as one built by hand is, is evaluated
// rule by rule, with the results the compiled fast path gives.
func TestWithoutFastPathAgrees(t *testing.T) {
	for _, tt := range []struct {
		name string
		rs   *rules.RuleSet
		pool func(rs *rules.RuleSet) []*engine.Customer
		// errs is whether some customer's rules fail at runtime, when
		// the fast programs fail and evaluation falls back to the rules.
		errs bool
	}{
		{"retail", loadRetail(t), func(rs *rules.RuleSet) []*engine.Customer { return retailPool(rs, 2000, 5) }, false},
		{"runtime errors", compile(t, errorRules), func(rs *rules.RuleSet) []*engine.Customer {
			return []*engine.Customer{
				customer(t, rs, "null", in{facts: map[string]any{"score": nil, "spend": 150, "prev_spend": 100}}),
				customer(t, rs, "zero", in{facts: map[string]any{"score": 60, "spend": 150, "prev_spend": 0}}),
				customer(t, rs, "fine", in{facts: map[string]any{"score": 10, "spend": 50, "prev_spend": 40}}),
			}
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rs.Fast == nil {
				t.Fatal("the compiled rule set has no fast path")
			}
			slow := *tt.rs
			slow.Fast = nil
			fast, byRule := engine.New(tt.rs), engine.New(&slow)
			errs := 0
			for _, c := range tt.pool(tt.rs) {
				want := snapshot(byRule.Evaluate(retailAsOf, c))
				if got := snapshot(fast.Evaluate(retailAsOf, c)); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: fast path differs from rule by rule:\ngot  %+v\nwant %+v", c.Key, got, want)
				}
				errs += len(want.Errors)
			}
			if (errs > 0) != tt.errs {
				t.Errorf("%d runtime errors; want some: %v", errs, tt.errs)
			}
		})
	}
}

// New uses the fast path the rule set carries rather than building its
// own: a fast program that always picks the first segment decides every
// customer.
func TestNewUsesRuleSetFastPath(t *testing.T) {
	rs := compile(t, `
ruleset: tiers
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: big
        when: spend >= 100
      - name: small
        fallback: true
`)
	c := customer(t, rs, "c1", in{facts: map[string]any{"spend": 5}})
	if got := decision(t, rs, engine.New(rs).Evaluate(retailAsOf, c), "tier").Segment; got != "small" {
		t.Fatalf("with the compiled fast path: %s, want small", got)
	}
	first, err := expr.Compile("0")
	if err != nil {
		t.Fatal(err)
	}
	rigged := *rs
	rigged.Fast = &rules.FastPath{Segmentations: []*vm.Program{first}}
	if got := decision(t, rs, engine.New(&rigged).Evaluate(retailAsOf, c), "tier").Segment; got != "big" {
		t.Errorf("with a fast path that always picks the first segment: %s, want big", got)
	}
}
