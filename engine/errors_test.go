package engine_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

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
			wantErrs:    []wantErr{{"segmentations.risk.segments.high.when", "<nil> > int"}},
		},
		{
			name:         "null compared with a number, no previous state: no segment",
			c:            in{facts: map[string]any{"score": nil, "spend": 150, "prev_spend": 100}},
			wantSegments: map[string]string{"risk": "", "growth": "up", "tier": "big"},
			wantReasons:  map[string]engine.Reason{"risk": engine.ReasonError, "growth": engine.ReasonMatched, "tier": engine.ReasonMatched},
			wantActions:  []string{"report", "welcome"},
			wantErrs:     []wantErr{{"segmentations.risk.segments.high.when", "<nil> > int"}},
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
				{"actions.report.payload.growth", "pct_change: the old value is 0"},
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
			wantErrs:     []wantErr{{"segmentations.risk.segments.high.when", "<nil> > int"}},
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
				if got.Key != "cust-7" || got.Rule != w.rule || !strings.Contains(got.Err.Error(), w.contains) {
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
