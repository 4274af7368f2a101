package engine_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
)

const errorRules = `
ruleset: errs
facts:
  score: number?
  spend: number
  prev_spend: number
segmentations:
  - name: risk
    segments:
      - name: high
        when: score > 50
      - name: low
        fallback: true
  - name: growth
    segments:
      - name: up
        when: pct_change(prev_spend, spend) > 10
      - name: flat
        fallback: true
  - name: tier
    segments:
      - name: big
        when: spend >= 100
      - name: small
        fallback: true
actions:
  - name: risky
    when: segment.risk == "high"
    cooldown: 30d
  - name: report
    when: spend >= 100
    cooldown: 30d
    payload:
      growth: =pct_change(prev_spend, spend)
  - name: welcome
    when: entered("tier", "big")
`

// A rule that fails at runtime fails for that customer only: the error
// names the customer and the rule, the previous segment is kept, and
// every other segmentation, action and customer is decided as usual.
func TestRuntimeErrors(t *testing.T) {
	rs := compile(t, errorRules)
	e := engine.New(rs)
	since := date("2023-05-01")
	type wantErr struct{ rule, contains string }
	tests := []struct {
		name         string
		c            in
		wantSegments map[string]string
		wantReasons  map[string]engine.Reason
		wantActions  []string
		wantErrs     []wantErr
	}{
		{
			name: "null compared with a number: previous segment kept",
			c: in{
				facts: map[string]any{"score": nil, "spend": 150, "prev_spend": 100},
				prev:  map[string]engine.Assignment{"risk": {Segment: "high", Since: since}},
			},
			wantSegments: map[string]string{"risk": "high", "growth": "up", "tier": "big"},
			wantReasons:  map[string]engine.Reason{"risk": engine.ReasonError, "growth": engine.ReasonMatched, "tier": engine.ReasonMatched},
			// risky reads the kept segment; it fires as for any high-risk customer.
			wantActions: []string{"risky", "report", "welcome"},
			wantErrs:    []wantErr{{"segmentations.risk.segments.high.when", "<nil> > int (score is null)"}},
		},
		{
			name:         "null compared with a number, no previous state: no segment",
			c:            in{facts: map[string]any{"score": nil, "spend": 150, "prev_spend": 100}},
			wantSegments: map[string]string{"risk": "", "growth": "up", "tier": "big"},
			wantReasons:  map[string]engine.Reason{"risk": engine.ReasonError, "growth": engine.ReasonMatched, "tier": engine.ReasonMatched},
			wantActions:  []string{"report", "welcome"},
			wantErrs:     []wantErr{{"segmentations.risk.segments.high.when", "<nil> > int (score is null)"}},
		},
		{
			name: "pct_change from 0 in a condition and in a payload",
			c: in{
				facts: map[string]any{"score": 10, "spend": 150, "prev_spend": 0},
				prev:  map[string]engine.Assignment{"growth": {Segment: "flat", Since: since}, "tier": {Segment: "big", Since: since}},
			},
			wantSegments: map[string]string{"risk": "low", "growth": "flat", "tier": "big"},
			wantReasons:  map[string]engine.Reason{"risk": engine.ReasonFallback, "growth": engine.ReasonError, "tier": engine.ReasonMatched},
			// report's payload fails, so report is not queued.
			wantActions: nil,
			wantErrs: []wantErr{
				{"segmentations.growth.segments.up.when", "pct_change: the old value is 0"},
				{"actions.report.payload.growth", "(prev_spend = 0, spend = 150)"},
			},
		},
		{
			name: "a previous segment that no longer exists is dropped on error",
			c: in{
				facts: map[string]any{"score": nil, "spend": 50, "prev_spend": 100},
				prev:  map[string]engine.Assignment{"risk": {Segment: "extreme", Since: since}},
			},
			wantSegments: map[string]string{"risk": "", "growth": "flat", "tier": "small"},
			wantReasons:  map[string]engine.Reason{"risk": engine.ReasonError, "growth": engine.ReasonFallback, "tier": engine.ReasonFallback},
			wantErrs:     []wantErr{{"segmentations.risk.segments.high.when", "<nil> > int (score is null)"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := customer(t, rs, "cust-7", tt.c)
			res := e.Evaluate(asOf, c)
			if got := segments(rs, res); !reflect.DeepEqual(got, tt.wantSegments) {
				t.Errorf("segments = %v, want %v", got, tt.wantSegments)
			}
			for name, want := range tt.wantReasons {
				if got := decision(t, rs, res, name).Reason; got != want {
					t.Errorf("%s: reason = %v, want %v", name, got, want)
				}
			}
			if got := actionNames(res); !slices.Equal(got, tt.wantActions) {
				t.Errorf("actions = %v, want %v", got, tt.wantActions)
			}
			if len(res.Errors) != len(tt.wantErrs) {
				t.Fatalf("errors = %v, want %d", res.Errors, len(tt.wantErrs))
			}
			for i, w := range tt.wantErrs {
				got := res.Errors[i]
				if got.Key != "cust-7" || got.Rule != w.rule || !strings.Contains(got.Message(), w.contains) {
					t.Errorf("error %d = {%s %s %v}, want {cust-7 %s ...%s...}", i, got.Key, got.Rule, got.Err, w.rule, w.contains)
				}
				if !strings.HasPrefix(got.Error(), "customer cust-7: "+w.rule+": ") {
					t.Errorf("Error() = %q", got.Error())
				}
				if !errors.Is(&got, got.Err) {
					t.Errorf("RuleError does not unwrap to its cause")
				}
			}
		})
	}
}

// An error keeps the whole previous assignment, including a pending
// downgrade.
func TestRuntimeErrorKeepsAssignment(t *testing.T) {
	rs := compile(t, errorRules)
	prev := engine.Assignment{Segment: "high", Since: date("2023-05-01"), PendingSince: date("2024-06-01")}
	c := customer(t, rs, "c1", in{facts: map[string]any{"score": nil}, prev: map[string]engine.Assignment{"risk": prev}})
	got := decision(t, rs, engine.New(rs).Evaluate(asOf, c), "risk")
	want := engine.Decision{Assignment: prev, Previous: "high", Reason: engine.ReasonError}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// A failing customer in the middle of a batch changes nothing for the
// customers around it.
func TestRuntimeErrorIsolatedToCustomer(t *testing.T) {
	rs := compile(t, errorRules)
	e := engine.New(rs)
	good := customer(t, rs, "good", in{facts: map[string]any{"score": 80, "spend": 150, "prev_spend": 100}})
	bad := customer(t, rs, "bad", in{facts: map[string]any{"score": nil, "spend": 150, "prev_spend": 0}})
	want := snapshot(e.Evaluate(asOf, good))
	if len(want.Errors) > 0 {
		t.Fatalf("good customer has errors: %v", want.Errors)
	}
	var res engine.Result
	for _, c := range []*engine.Customer{good, bad, good} {
		e.EvaluateInto(asOf, c, &res)
		if c == bad {
			if len(res.Errors) != 3 {
				t.Fatalf("bad customer: errors = %v, want 3", res.Errors)
			}
			continue
		}
		if got := snapshot(&res); !reflect.DeepEqual(got, want) {
			t.Errorf("good customer:\ngot  %+v\nwant %+v", got, want)
		}
	}
}

// A runtime error names what the failing expression read, with the
// customer's values: the null facts first, then the others, and segment
// variables by the names rules write them.
func TestRuntimeErrorNamesFacts(t *testing.T) {
	rs := compile(t, `
ruleset: named
facts:
  spend_12m: number
  prev_spend: number
  last_order_at: time?
  first_order_at: time?
  region: string
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= 100 && days_since(last_order_at) < 30
      - name: other
        fallback: true
  - name: risk
    segments:
      - name: high
        when: pct_change(prev_spend, spend_12m) < -50 || region == "x"
      - name: low
        fallback: true
actions:
  - name: late
    when: segment.tier == "vip" && last_order_at > first_order_at
    cooldown: 30d
    payload:
      days: =days_between(first_order_at, last_order_at)
`)
	c := customer(t, rs, "c1", in{facts: map[string]any{"spend_12m": 120.5, "prev_spend": 0, "last_order_at": nil, "region": "east"}})
	want := []string{
		"segmentations.tier.segments.vip.when: days_since: argument is null (guard with is_null() or coalesce()) (last_order_at is null; spend_12m = 120.5)",
		`segmentations.risk.segments.high.when: pct_change: the old value is 0, so a percent change is undefined (guard with ` + "`old > 0 && ...`" + `) (prev_spend = 0, spend_12m = 120.5, region = "east")`,
	}
	e := engine.New(rs)
	for _, res := range []*engine.Result{e.Evaluate(asOf, c), e.Explain(asOf, c).Result} {
		var got []string
		for _, re := range res.Errors {
			got = append(got, re.Rule+": "+re.Message())
		}
		if !slices.Equal(got, want) {
			t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if len(res.Errors) > 0 {
			if got := res.Errors[0].Error(); got != "customer c1: "+want[0] {
				t.Errorf("Error() = %q", got)
			}
			if want := []engine.FactValue{{Name: "last_order_at"}, {Name: "spend_12m", Value: 120.5}}; !reflect.DeepEqual(res.Errors[0].Facts, want) {
				t.Errorf("Facts = %v, want %v", res.Errors[0].Facts, want)
			}
		}
	}

	// The action's condition and its payload read segment.tier and two
	// null facts.
	c = customer(t, rs, "c2", in{facts: map[string]any{"spend_12m": 500, "prev_spend": 100, "last_order_at": date("2024-06-20"), "region": "east"}})
	res := e.Evaluate(asOf, c)
	if len(res.Errors) != 1 {
		t.Fatalf("errors = %v, want one", res.Errors)
	}
	if got, want := res.Errors[0].Message(), `invalid operation: time.Time > <nil>`; !strings.HasPrefix(got, want) {
		t.Errorf("Message() = %q, want it to start with %q", got, want)
	}
	if got, want := res.Errors[0].Message(), `(first_order_at is null; segment.tier = "vip", last_order_at = 2024-06-20)`; !strings.HasSuffix(got, want) {
		t.Errorf("Message() = %q, want it to end with %q", got, want)
	}
}

// Errors of a fact itself name the fact already and list nothing more;
// a long list of facts is cut.
func TestRuntimeErrorFactsList(t *testing.T) {
	err := errors.New("boom")
	long := strings.Repeat("é", 50)
	tests := []struct {
		facts []engine.FactValue
		want  string
	}{
		{nil, "boom"},
		{[]engine.FactValue{{Name: "a"}}, "boom (a is null)"},
		{[]engine.FactValue{{Name: "a"}, {Name: "b"}}, "boom (a, b are null)"},
		{[]engine.FactValue{{Name: "n", Value: 1e7}, {Name: "i", Value: 3}, {Name: "ok", Value: true}}, "boom (n = 10000000, i = 3, ok = true)"},
		{[]engine.FactValue{{Name: "t", Value: date("2024-06-20").Add(90 * time.Minute)}, {Name: "s", Value: long}},
			`boom (t = 2024-06-20T01:30:00Z, s = "` + strings.Repeat("é", 40) + `...")`},
		{[]engine.FactValue{{Name: "a"}, {Name: "b", Value: 1.5}, {Name: "c", Value: 2.0}, {Name: "d", Value: 3.0}, {Name: "e", Value: 4.0}, {Name: "f", Value: 5.0}, {Name: "g", Value: 6.0}, {Name: "h", Value: 7.0}},
			"boom (a is null; b = 1.5, c = 2, d = 3, e = 4, f = 5; 2 more)"},
	}
	for _, tt := range tests {
		re := engine.RuleError{Key: "k", Rule: "r", Err: err, Facts: tt.facts}
		if got := re.Message(); got != tt.want {
			t.Errorf("Message() = %q, want %q", got, tt.want)
		}
	}
}
