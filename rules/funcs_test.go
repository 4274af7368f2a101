package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// funcFacts are the facts the function tests read; all nullable, so that
// tests can pass null.
const funcFacts = `
ruleset: funcs
facts:
  t1: time?
  t2: time?
  n1: number?
  n2: number?
  i1: integer?
  s1: string?
segmentations:
  - name: tier
    segments:
      - {name: gold, when: t1 != nil && t2 != nil && n1 != nil && n2 != nil && i1 != nil && s1 != nil}
      - {name: basic, fallback: true}
`

// evalValue compiles expression as an action's payload value ("=expr")
// and evaluates it against facts at asOf.
func evalValue(t *testing.T, expression string, asOf time.Time, facts map[string]any) (any, error) {
	t.Helper()
	src := funcFacts + "actions:\n  - name: probe\n    when: \"true\"\n    cooldown: 1d\n    payload:\n      v: " + quoteYAML("="+expression) + "\n"
	rs := mustCompile(t, src)
	env := map[string]any{rules.AsOfVar: asOf}
	for _, name := range rs.Facts.Names() {
		env[name] = nil
	}
	for k, v := range facts {
		env[k] = v
	}
	return run(t, rs.Actions[0].Payload[0].Expr, env)
}

func quoteYAML(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func date(s string) time.Time {
	t, err := rules.ParseTime(s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestFunctions(t *testing.T) {
	t.Parallel()
	asOf := date("2024-07-01")
	tests := []struct {
		name    string
		expr    string
		facts   map[string]any
		want    any
		wantErr string
	}{
		{"days_between forward", "days_between(t1, t2)", map[string]any{"t1": date("2024-01-01"), "t2": date("2024-01-31")}, 30, ""},
		{"days_between backward", "days_between(t1, t2)", map[string]any{"t1": date("2024-01-31"), "t2": date("2024-01-01")}, -30, ""},
		{"days_between counts whole days", "days_between(t1, t2)", map[string]any{"t1": date("2024-01-01T00:00:00Z"), "t2": date("2024-01-02T23:59:59Z")}, 1, ""},
		{"days_between same instant", "days_between(t1, t1)", map[string]any{"t1": date("2024-01-01")}, 0, ""},
		{"days_between over a leap day", "days_between(t1, t2)", map[string]any{"t1": date("2024-02-28"), "t2": date("2024-03-01")}, 2, ""},
		{"days_between null", "days_between(t1, t2)", map[string]any{"t2": date("2024-01-01")}, nil, "days_between: argument is null (guard with is_null() or coalesce())"},
		{"days_since", "days_since(t1)", map[string]any{"t1": date("2024-06-01")}, 30, ""},
		{"days_since future", "days_since(t1)", map[string]any{"t1": date("2024-07-11")}, -10, ""},

		{"months_between one day short", "months_between(t1, t2)", map[string]any{"t1": date("2024-01-15"), "t2": date("2024-02-14")}, 0, ""},
		{"months_between exact", "months_between(t1, t2)", map[string]any{"t1": date("2024-01-15"), "t2": date("2024-02-15")}, 1, ""},
		{"months_between negative", "months_between(t1, t2)", map[string]any{"t1": date("2024-02-15"), "t2": date("2024-01-15")}, -1, ""},
		{"months_between negative short", "months_between(t1, t2)", map[string]any{"t1": date("2024-02-14"), "t2": date("2024-01-15")}, 0, ""},
		{"months_between month end", "months_between(t1, t2)", map[string]any{"t1": date("2024-01-31"), "t2": date("2024-02-29")}, 0, ""},
		{"months_between two month ends", "months_between(t1, t2)", map[string]any{"t1": date("2024-01-31"), "t2": date("2024-03-31")}, 2, ""},
		{"months_between a year", "months_between(t1, t2)", map[string]any{"t1": date("2023-01-15"), "t2": date("2024-01-15")}, 12, ""},
		{"months_between by time of day", "months_between(t1, t2)", map[string]any{"t1": date("2024-01-15T12:00:00Z"), "t2": date("2024-02-15T11:00:00Z")}, 0, ""},
		{"months_between null", "months_between(t1, t2)", map[string]any{"t1": date("2024-01-15")}, nil, "months_between: argument is null"},
		{"months_since", "months_since(t1)", map[string]any{"t1": date("2024-01-01")}, 6, ""},

		{"year", "year(t1)", map[string]any{"t1": date("2024-07-01")}, 2024, ""},
		{"month", "month(t1)", map[string]any{"t1": date("2024-07-01")}, 7, ""},
		{"year null", "year(t1)", nil, nil, "year: argument is null"},

		{"pct_change up", "pct_change(n1, n2)", map[string]any{"n1": 100.0, "n2": 150.0}, 50.0, ""},
		{"pct_change down", "pct_change(n1, n2)", map[string]any{"n1": 200.0, "n2": 50.0}, -75.0, ""},
		{"pct_change from negative", "pct_change(n1, n2)", map[string]any{"n1": -100.0, "n2": -50.0}, 50.0, ""},
		{"pct_change integers", "pct_change(i1, 3)", map[string]any{"i1": 2}, 50.0, ""},
		{"pct_change from zero", "pct_change(n1, n2)", map[string]any{"n1": 0.0, "n2": 5.0}, nil, "pct_change: the old value is 0, so a percent change is undefined"},
		{"pct_change null", "pct_change(n1, n2)", map[string]any{"n2": 5.0}, nil, "pct_change: argument is null"},

		{"ratio", "ratio(n1, n2)", map[string]any{"n1": 1.0, "n2": 4.0}, 0.25, ""},
		{"ratio integers", "ratio(i1, 2)", map[string]any{"i1": 5}, 2.5, ""},
		{"ratio by zero", "ratio(n1, n2)", map[string]any{"n1": 1.0, "n2": 0.0}, nil, "ratio: division by zero (use safe_div(a, b, default))"},
		{"ratio null", "ratio(n1, n2)", map[string]any{"n1": 1.0}, nil, "ratio: argument is null"},

		{"safe_div", "safe_div(n1, n2, -1)", map[string]any{"n1": 3.0, "n2": 4.0}, 0.75, ""},
		{"safe_div by zero", "safe_div(n1, n2, -1)", map[string]any{"n1": 3.0, "n2": 0.0}, -1.0, ""},
		{"safe_div by zero with a fact default", "safe_div(n1, 0, n2)", map[string]any{"n1": 3.0, "n2": 9.5}, 9.5, ""},
		{"safe_div null default", "safe_div(n1, 0, n2)", map[string]any{"n1": 3.0}, nil, "safe_div: argument is null"},
		{"safe_div null", "safe_div(n1, n2, 0)", map[string]any{"n2": 2.0}, nil, "safe_div: argument is null"},

		{"is_null time", "is_null(t1)", nil, true, ""},
		{"is_null time set", "is_null(t1)", map[string]any{"t1": date("2024-01-01")}, false, ""},
		{"is_null string", "is_null(s1)", map[string]any{"s1": ""}, false, ""},
		{"is_null number", "is_null(n1)", nil, true, ""},

		{"coalesce null", "coalesce(n1, 0)", nil, 0, ""},
		{"coalesce set", "coalesce(n1, 0)", map[string]any{"n1": 5.5}, 5.5, ""},
		{"coalesce first non-null", "coalesce(s1, s1, 'none')", nil, "none", ""},
		{"coalesce all null", "coalesce(n1, n2)", nil, nil, ""},
		{"coalesce keeps zero", "coalesce(n1, 9)", map[string]any{"n1": 0.0}, 0.0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := evalValue(t, tt.expr, asOf, tt.facts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("%s = %#v, %v; want an error containing %q", tt.expr, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tt.expr, err)
			}
			if got != tt.want {
				t.Errorf("%s = %#v (%T), want %#v (%T)", tt.expr, got, got, tt.want, tt.want)
			}
		})
	}
}

func TestDaysBetween(t *testing.T) {
	t.Parallel()
	if got := rules.DaysBetween(date("2024-01-01"), date("2024-12-31")); got != 365 {
		t.Errorf("DaysBetween over 2024 = %d, want 365", got)
	}
	if got := rules.DaysBetween(date("2024-01-02T12:00:00Z"), date("2024-01-01")); got != -1 {
		t.Errorf("DaysBetween backwards = %d, want -1", got)
	}
}

// TestFunctionTypeErrors checks that function arguments are type-checked
// at compile time, including after params are put in.
func TestFunctionTypeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want string
	}{
		{"days_between(n1, t2) > 1", "cannot use number as argument (a date or a time) to call days_between"},
		{"year(params.name) > 1", "cannot use string as argument (a date or a time) to call year"},
		{"ratio(s1, 2) > 1", "cannot use string as argument (type number) to call ratio"},
		{"days_between(days_since(t1), t2) > 1", "cannot use integer as argument (a date or a time) to call days_between"},
		{"safe_div(n1, n2) > 1", "not enough arguments to call safe_div"},
		{"is_null(zz)", `unknown name "zz"`},
		{"coalesce(n1, nope) > 1", `unknown name "nope"`},
		{"days_between(t1, now()) > 1", `unknown name "now" (rules cannot read the clock`},
		{"json(s1) != ''", `unknown name "json" (see the functions in docs/rules.md)`},
		{"days_sinse(t1) > 1", `unknown name "days_sinse" (did you mean "days_since"?)`},
	}
	for _, tt := range tests {
		src := strings.Replace(funcFacts, "facts:", "params:\n  name: x\nfacts:", 1) + "actions:\n  - name: probe\n    when: " + quoteYAML(tt.expr) + "\n    cooldown: 1d\n"
		list := compileErrors(t, src)
		if d := onlyError(t, list); !strings.Contains(d.Message+" ("+d.Hint+")", tt.want) {
			t.Errorf("%s: got %s\nwant %q", tt.expr, d, tt.want)
		}
	}
}

// TestHelpers evaluates the segmentation helpers against the state
// variables the engine sets (rules.VarsFor).
func TestHelpers(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, `
ruleset: helpers
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - {name: gold, when: spend >= 100}
      - {name: silver, when: spend >= 10}
      - {name: basic, fallback: true}
actions:
  - name: probe
    when: "true"
    cooldown: 1d
    payload:
      entered: '=entered("tier", "gold")'
      left: '=left("tier", "gold")'
      changed: '=changed("tier")'
      upgraded: '=upgraded("tier")'
      downgraded: '=downgraded("tier")'
      rank: '=rank("tier")'
      previous_rank: '=previous_rank("tier")'
      days_in: '=days_in("tier")'
      days_in_previous: '=days_in_previous("tier")'
      segment: =segment.tier
      previous: =previous.tier
`)
	v := rules.VarsFor("tier")
	state := func(seg string, rank int, prev string, prevRank int) map[string]any {
		return map[string]any{
			v.Segment: seg, v.Rank: rank, v.Previous: prev, v.PreviousRank: prevRank,
			v.DaysIn: 3, v.DaysInPrevious: 40,
		}
	}
	tests := []struct {
		name  string
		env   map[string]any
		field string
		want  any
	}{
		{"entered gold from silver", state("gold", 1, "silver", 2), "entered", true},
		{"stayed in gold", state("gold", 1, "gold", 1), "entered", false},
		{"entered gold as a new customer", state("gold", 1, "", 0), "entered", true},
		{"left gold", state("silver", 2, "gold", 1), "left", true},
		{"did not leave gold", state("gold", 1, "gold", 1), "left", false},
		{"changed", state("silver", 2, "gold", 1), "changed", true},
		{"unchanged", state("gold", 1, "gold", 1), "changed", false},
		{"upgraded", state("gold", 1, "basic", 3), "upgraded", true},
		{"a new customer is not upgraded", state("gold", 1, "", 0), "upgraded", false},
		{"downgraded is not upgraded", state("basic", 3, "gold", 1), "upgraded", false},
		{"downgraded", state("basic", 3, "silver", 2), "downgraded", true},
		{"a new customer is not downgraded", state("basic", 3, "", 0), "downgraded", false},
		{"same rank is not downgraded", state("silver", 2, "silver", 2), "downgraded", false},
		{"rank", state("silver", 2, "gold", 1), "rank", 2},
		{"previous_rank", state("silver", 2, "gold", 1), "previous_rank", 1},
		{"days_in", state("silver", 2, "gold", 1), "days_in", 3},
		{"days_in_previous", state("silver", 2, "gold", 1), "days_in_previous", 40},
		{"segment", state("silver", 2, "gold", 1), "segment", "silver"},
		{"previous", state("silver", 2, "gold", 1), "previous", "gold"},
	}
	payload := map[string]*rules.Expr{}
	for _, p := range rs.Actions[0].Payload {
		payload[p.Name] = p.Expr
	}
	for _, tt := range tests {
		got, err := run(t, payload[tt.field], tt.env)
		if err != nil || got != tt.want {
			t.Errorf("%s: %s = %#v, %v; want %#v", tt.name, payload[tt.field].Source, got, err, tt.want)
		}
	}
}
