package rules_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// Issue 10 item 3: this condition passed check and took 55 CPU-seconds
// for one customer. It must fail, saying why, at the outer count.
func TestNestedCountRejected(t *testing.T) {
	t.Parallel()
	when := `let r = 1..999; count(r, count(r, count(r, # > 0) == 999) == 999) == 999`
	src := conditionSrc(when)
	d := onlyError(t, compileErrors(t, src))
	want := "this condition could take up to 4,991,010,002 steps per customer (count over 999 items, nested 3 deep); the limit is 100,000"
	if d.Message != want {
		t.Errorf("message:\n%s\nwant:\n%s", d.Message, want)
	}
	if line, col := runePos(src, "count"); d.Pos.Line != line || d.Pos.Col != col {
		t.Errorf("error at %d:%d, want %d:%d, the outer count", d.Pos.Line, d.Pos.Col, line, col)
	}
}

// TestCostModel pins the estimate of typical conditions, which the
// limits in docs/rules.md are chosen against: a step per node, a turn of
// a loop per item, a step per 8 to 256 characters of text by the
// operation, and text facts counted as 1,000 characters.
func TestCostModel(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		when string
		want int64
	}{
		{`orders > 1`, 3},
		{`days_since(last_order_at) > 30 && orders >= 2`, 9},
		// expr's optimizer makes these constant-time checks.
		{`channel in ["web", "store"]`, 5},
		{`orders in 1..10`, 5},
		{`orders in [1, 2, 3]`, 5},
		// Text facts count as 1,000 characters.
		{`lower(channel) == "web"`, 69},
		{`string(orders) + channel != ""`, 55},
		{`channel matches "^w.*b$"`, 504},
		// A loop costs its body per item, plus the range it walks.
		{`count(1..10, # > 0) > 1`, 66},
		{`let n = 10; count(1..n, # > 0) > 1`, 68},
		{`all(["a", "b"], channel startsWith #)`, 18},
	} {
		t.Run(tt.when, func(t *testing.T) {
			t.Parallel()
			rs := mustCompile(t, conditionSrc(tt.when))
			if got := rs.Segmentations[0].Segments[0].When.Cost; got != tt.want {
				t.Errorf("cost %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCostLimits(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		when string
		want string // "" when it must compile
	}{
		{`count(1..12000, # % 2 == 0) > 0`, ""},
		{`count(1..13000, # % 2 == 0) > 0`, "could take up to 104,006 steps per customer (count over 13,000 items); the limit is 100,000"},
		{`any(1..100, any(1..100, # == orders))`, ""},
		{`any(1..100, any(1..100, any(1..100, # == orders)))`, "(any over 100 items, nested 3 deep)"},
		{`len(string(map(1..1000, string(1..100)))) > 0`, "(map over 1,000 items)"},
		{`len(string(1..20000) + "x") > 0`, "(text of up to 840,002 characters)"},
		{`count(1..orders, # > 0) > 1`, "a range needs fixed bounds, so that its cost is known when the file loads"},
		{`let n = 3; count(1..(n * 4), # > 0) > 1`, ""},
		{`len(1..1000000000000) > 0`, "(a range of 1,000,000,000,000 numbers)"},
	} {
		t.Run(tt.when, func(t *testing.T) {
			t.Parallel()
			src := conditionSrc(tt.when)
			if tt.want == "" {
				mustCompile(t, src)
				return
			}
			if d := onlyError(t, compileErrors(t, src)); !strings.Contains(d.Message, tt.want) {
				t.Errorf("message %q does not contain %q", d.Message, tt.want)
			}
		})
	}
}

// The shipped examples must stay far within the limits, and every
// compiled expression must carry its cost.
func TestExamplesWithinCostLimits(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../examples/*/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		if rules.TestFileFor(path) == "" {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := rules.Compile(filepath.Base(path), src, rules.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var total, most int64
			eachExpr(rs, func(x *rules.Expr) {
				if x.Cost <= 0 || x.Cost > rules.MaxExprSteps {
					t.Errorf("%s: cost %d", x.Field, x.Cost)
				}
				total += x.Cost
				most = max(most, x.Cost)
			})
			t.Logf("total %d steps per customer, costliest expression %d", total, most)
			if total > rules.MaxRuleSetSteps/100 {
				t.Errorf("total cost %d is over 1%% of the limit %d", total, rules.MaxRuleSetSteps)
			}
		})
	}
}

func eachExpr(rs *rules.RuleSet, f func(*rules.Expr)) {
	for _, s := range rs.Segmentations {
		for _, seg := range s.Segments {
			if seg.When != nil {
				f(seg.When)
			}
		}
	}
	for _, a := range rs.Actions {
		f(a.When)
		for _, p := range a.Payload {
			if p.Expr != nil {
				f(p.Expr)
			}
		}
	}
}
