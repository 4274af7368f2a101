package jobs

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

const tinyRules = `
ruleset: tiny
facts:
  spend: number?
segmentations:
  - name: tier
    segments:
      - name: big
        when: spend >= 100
      - name: small
        fallback: true
actions:
  - name: thank
    when: entered("tier", "big")
`

// tinyPlan evaluates n customers: moved of them move from small to big
// (and are thanked), failed have a null spend, the rest stay small.
func tinyPlan(t *testing.T, n, moved, failed int) *engine.Plan {
	t.Helper()
	rs, err := rules.Compile("tiny.yaml", []byte(tinyRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(rs)
	p := engine.NewPlan(rs)
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	small := engine.State{Segments: []engine.Assignment{{Segment: "small", Since: asOf.AddDate(-1, 0, 0)}}}
	for i := range n {
		var spend any = 10.0
		switch {
		case i < moved:
			spend = 500.0
		case i < moved+failed:
			spend = nil
		}
		c := &engine.Customer{Key: string(rune('a' + i%26)), Facts: []any{spend}, State: small}
		p.Add(c.Key, e.Evaluate(asOf, c))
	}
	return p
}

func TestGuardCheck(t *testing.T) {
	tests := []struct {
		name                 string
		guard                Guard
		n, moved, failed     int
		initial              bool
		wantBlocked, wantErr bool
		wantReason           string
	}{
		{name: "within limits", guard: DefaultGuard, n: 100, moved: 20},
		{name: "moved share over the limit", guard: DefaultGuard, n: 100, moved: 21, wantBlocked: true,
			wantReason: "21 of 100 customers (21.0%) would change segment, more than the limit of 20.0%"},
		{name: "initial run ignores max_moved", guard: DefaultGuard, n: 100, moved: 100, initial: true},
		{name: "allow large", guard: Guard{MaxMovedShare: 0.2, MaxActions: 1, AllowLarge: true}, n: 100, moved: 90},
		{name: "no moved limit", guard: Guard{}, n: 100, moved: 90},
		{name: "max actions", guard: Guard{MaxActions: 5}, n: 100, moved: 6, wantBlocked: true,
			wantReason: "6 actions would be queued, more than the limit of 5"},
		{name: "max actions applies to an initial run", guard: Guard{MaxActions: 5}, n: 100, moved: 6, initial: true, wantBlocked: true},
		{name: "errors within the rate", guard: DefaultGuard, n: 200, failed: 2},
		{name: "errors over the rate", guard: DefaultGuard, n: 200, failed: 3, wantBlocked: true, wantErr: true,
			wantReason: "3 of 200 customers (1.50%) failed a rule, more than the limit of 1.00%"},
		{name: "allow large does not lift the error rate", guard: Guard{MaxErrorRate: 0.01, AllowLarge: true}, n: 200, failed: 3,
			wantBlocked: true, wantErr: true},
		{name: "zero error rate: any error aborts", guard: Guard{}, n: 200, failed: 1, wantBlocked: true, wantErr: true},
		{name: "negative error rate: no limit", guard: Guard{MaxErrorRate: -1}, n: 200, failed: 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.guard.check(tinyPlan(t, tt.n, tt.moved, tt.failed), tt.initial)
			if r.Blocked != tt.wantBlocked || r.ErrorRateExceeded != tt.wantErr {
				t.Fatalf("check: %+v, want blocked=%v error_rate_exceeded=%v", r, tt.wantBlocked, tt.wantErr)
			}
			if tt.wantBlocked && len(r.Reasons) == 0 {
				t.Fatal("blocked without a reason")
			}
			if tt.wantReason != "" && !strings.Contains(joinReasons(r.Reasons), tt.wantReason) {
				t.Fatalf("reasons %q, want %q", r.Reasons, tt.wantReason)
			}
		})
	}
}

// The report's JSON has the keys docs/plan-json.md documents, with empty
// lists rather than null, and the figures of the plan.
func TestPlanReportJSON(t *testing.T) {
	p := tinyPlan(t, 10, 3, 1)
	rep := NewPlanReport(p, "plan", time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), false)
	if !rep.HasChanges() || rep.Changed != 3 || rep.ActionsTotal != 3 || rep.Errors.Customers != 1 || len(rep.Errors.Examples) != 1 {
		t.Fatalf("report: %+v", rep)
	}
	ex := rep.Errors.Examples[0]
	if ex.Customer != "d" || ex.Rule != "segmentations.tier.segments.big.when" || ex.Message == "" {
		t.Fatalf("error example %+v", ex)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"format_version", "mode", "ruleset", "rules_hash", "as_of", "initial", "customers",
		"changed", "actions_total", "segmentations", "actions", "errors", "samples", "guard"} {
		if _, ok := m[key]; !ok {
			t.Errorf("report JSON lacks %q: %s", key, b)
		}
	}
	if string(m["format_version"]) != "1" || string(m["as_of"]) != `"2024-07-01T00:00:00Z"` {
		t.Errorf("format_version %s, as_of %s", m["format_version"], m["as_of"])
	}

	empty := NewPlanReport(tinyPlan(t, 0, 0, 0), "plan", time.Time{}, true)
	b, _ = json.Marshal(empty)
	for _, null := range []string{`"samples":null`, `"examples":null`, `"moves":null`, `"by_rule":null`} {
		if strings.Contains(string(b), null) {
			t.Errorf("empty report has %s: %s", null, b)
		}
	}
	if empty.HasChanges() {
		t.Error("an empty plan has changes")
	}
}
