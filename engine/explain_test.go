package engine_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/engine/ruletest"
	"github.com/tierflow/tierflow/rules"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// retailCase returns the retail test case called name as engine input.
func retailCase(t *testing.T, rs *rules.RuleSet, name string) (*rules.TestCase, *engine.Customer) {
	t.Helper()
	for _, tc := range rs.Tests {
		if tc.Name == name {
			c, err := ruletest.Customer(rs, tc)
			if err != nil {
				t.Fatal(err)
			}
			return tc, c
		}
	}
	t.Fatalf("no retail test case %q", name)
	return nil, nil
}

func segTrace(t *testing.T, tr *engine.Trace, name string) *engine.SegmentationTrace {
	t.Helper()
	for _, st := range tr.Segmentations {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no trace of segmentation %q", name)
	return nil
}

func actTrace(t *testing.T, tr *engine.Trace, name string) *engine.ActionTrace {
	t.Helper()
	for _, at := range tr.Actions {
		if at.Name == name {
			return at
		}
	}
	t.Fatalf("no trace of action %q", name)
	return nil
}

func TestExplainTriedRules(t *testing.T) {
	rs := loadRetail(t)
	tc, c := retailCase(t, rs, "a VIP whose spending halves is at risk and gets a win-back call")
	tr := engine.New(rs).Explain(tc.AsOf, c)
	if tr.Key != c.Key || !tr.AsOf.Equal(tc.AsOf) {
		t.Errorf("trace is of %s at %v", tr.Key, tr.AsOf)
	}

	life := segTrace(t, tr, "lifecycle")
	want := []engine.RuleTrace{
		{Segment: "churned", Label: "已流失", When: rs.Segmentations[1].Segments[0].When.Source, Outcome: engine.OutcomeFalse,
			Reads: []engine.FactValue{{Name: "last_order_at", Value: date("2024-06-20")}}},
		{Segment: "new", Label: "新客户", When: "days_since(first_order_at) <= params.new_days", Outcome: engine.OutcomeFalse,
			Reads: []engine.FactValue{{Name: "first_order_at", Value: date("2021-01-01")}}},
		{Segment: "won_back", Label: "已挽回", When: `previous.lifecycle == "churned"`, Outcome: engine.OutcomeFalse,
			Reads: []engine.FactValue{{Name: "previous.lifecycle", Value: "active"}}},
		{Segment: "at_risk", Label: "流失预警", When: "spend_prev_12m > 0 && spend_12m < spend_prev_12m * params.at_risk_ratio", Outcome: engine.OutcomeTrue,
			Reads: []engine.FactValue{{Name: "spend_prev_12m", Value: 70000.0}, {Name: "spend_12m", Value: 30000.0}}},
		{Segment: "active", Label: "活跃客户", Outcome: engine.OutcomeNotReached},
	}
	if !reflect.DeepEqual(life.Tried, want) {
		t.Errorf("lifecycle tried:\ngot  %+v\nwant %+v", life.Tried, want)
	}
	if life.Decision.Segment != "at_risk" || life.Decision.Reason != engine.ReasonMatched || life.Note != "" {
		t.Errorf("lifecycle: decision %+v, note %q", life.Decision, life.Note)
	}
	if life.Previous.Segment != "active" || !life.Previous.Since.Equal(date("2022-01-01")) {
		t.Errorf("lifecycle previous = %+v", life.Previous)
	}

	// value_tier: key matched, held in vip by the grace; the rest not reached.
	tier := segTrace(t, tr, "value_tier")
	var outcomes []string
	for _, rt := range tier.Tried {
		outcomes = append(outcomes, rt.Segment+"="+string(rt.Outcome))
	}
	if got, want := strings.Join(outcomes, " "), "vip=false key=true regular=not reached small=not reached"; got != want {
		t.Errorf("value_tier tried: %s, want %s", got, want)
	}
	if got := tier.Tried[2].When; got != "spend_12m >= params.regular_spend" {
		t.Errorf("a not-reached rule shows its condition: got %q", got)
	}
	if want := "key matched, but downgrade_grace keeps the customer in vip: pending since 2024-07-01, moves on 2024-09-29 unless they requalify"; tier.Note != want {
		t.Errorf("value_tier note = %q, want %q", tier.Note, want)
	}

	var order []string
	for _, st := range tr.Segmentations {
		order = append(order, st.Name)
	}
	if got := strings.Join(order, " "); got != "value_tier lifecycle source" {
		t.Errorf("segmentation order = %s", got)
	}
}

func TestExplainActions(t *testing.T) {
	rs := loadRetail(t)
	e := engine.New(rs)

	tc, c := retailCase(t, rs, "a VIP whose spending halves is at risk and gets a win-back call")
	tr := e.Explain(tc.AsOf, c)
	call := actTrace(t, tr, "winback_call")
	if call.Outcome != engine.OutcomeFired || call.Why != "" || call.Queued == nil {
		t.Fatalf("winback_call: %+v", call)
	}
	if call.Queued.Name != "winback_call" || !call.Queued.Due.Equal(date("2024-07-02")) || call.Queued.Payload["reason"] != "Spend fell 57% on last year" {
		t.Errorf("winback_call queued %+v", call.Queued)
	}
	if call.Label != "挽回电话" || call.When != rs.Actions[0].When.Source {
		t.Errorf("winback_call label %q when %q", call.Label, call.When)
	}
	// entered(...) is a transition, not a value read; segment.X is.
	if want := []engine.FactValue{{Name: "segment.value_tier", Value: "vip"}}; !reflect.DeepEqual(call.Reads, want) {
		t.Errorf("winback_call reads %v, want %v", call.Reads, want)
	}
	welcome := actTrace(t, tr, "onboarding_message")
	if welcome.Outcome != engine.OutcomeFalse || welcome.Why != "condition is false" || welcome.Queued != nil {
		t.Errorf("onboarding_message: %+v", welcome)
	}

	tc, c = retailCase(t, rs, "the win-back call is not repeated within its cooldown")
	call = actTrace(t, e.Explain(tc.AsOf, c), "winback_call")
	want := "cooldown: last queued 2024-06-15, not again before 2024-07-15"
	if call.Outcome != engine.OutcomeCooldown || call.Why != want || call.Queued != nil {
		t.Errorf("winback_call in cooldown: outcome %s, why %q, want %q", call.Outcome, call.Why, want)
	}
}

func TestExplainNotes(t *testing.T) {
	rs := loadRetail(t)
	tc, c := retailCase(t, rs, "won back customers stay won back for 60 days")
	st := segTrace(t, engine.New(rs).Explain(tc.AsOf, c), "lifecycle")
	if want := "active matched, but min_stay keeps the customer in won_back (there since 2024-06-01)"; st.Note != want {
		t.Errorf("note = %q, want %q", st.Note, want)
	}
	if st.Decision.Reason != engine.ReasonMinStay || st.Decision.Matched != "active" {
		t.Errorf("decision = %+v", st.Decision)
	}
}

func TestExplainErrors(t *testing.T) {
	rs := compile(t, errorRules+`
  - name: broken
    when: score > 1
    cooldown: 1d
`)
	e := engine.New(rs)
	c := customer(t, rs, "c1", in{
		facts: map[string]any{"score": nil, "spend": 150, "prev_spend": 0},
		prev:  map[string]engine.Assignment{"risk": {Segment: "high", Since: date("2023-05-01")}},
	})
	tr := e.Explain(asOf, c)

	risk := segTrace(t, tr, "risk")
	if rt := risk.Tried[0]; rt.Outcome != engine.OutcomeError || !strings.Contains(rt.Error, "<nil> > int") || len(rt.Reads) != 1 || rt.Reads[0] != (engine.FactValue{Name: "score"}) {
		t.Errorf("risk high: %+v", rt)
	}
	if rt := risk.Tried[1]; rt.Outcome != engine.OutcomeNotReached {
		t.Errorf("after an error, the rest is not reached: %+v", rt)
	}
	if want := "a condition failed: the previous segment high is kept"; risk.Note != want {
		t.Errorf("note = %q, want %q", risk.Note, want)
	}
	if growth := segTrace(t, tr, "growth"); growth.Note != "a condition failed, and the customer had no previous segment: left unassigned" {
		t.Errorf("growth note = %q", growth.Note)
	}

	report := actTrace(t, tr, "report")
	if report.Outcome != engine.OutcomeError || !strings.HasPrefix(report.Why, "payload growth: pct_change: the old value is 0") || report.Queued != nil {
		t.Errorf("report: outcome %s, why %q", report.Outcome, report.Why)
	}
	broken := actTrace(t, tr, "broken")
	if broken.Outcome != engine.OutcomeError || !strings.Contains(broken.Why, "<nil> > int") {
		t.Errorf("broken: outcome %s, why %q", broken.Outcome, broken.Why)
	}
	if len(tr.Result.Errors) != 4 {
		t.Errorf("errors = %v", tr.Result.Errors)
	}
}

// The trace lists segmentations in evaluation order, which is not file
// order when one reads another's new segment.
func TestExplainEvaluationOrder(t *testing.T) {
	rs := compile(t, `
ruleset: grid
facts:
  spend: number
segmentations:
  - name: grid
    segments:
      - name: vip_grid
        when: segment.tier == "vip" && spend > 0
      - name: rest
        fallback: true
  - name: tier
    segments:
      - name: vip
        when: spend >= 1000
      - name: std
        fallback: true
`)
	tr := engine.New(rs).Explain(asOf, customer(t, rs, "c1", in{facts: map[string]any{"spend": 5000}}))
	if len(tr.Segmentations) != 2 || tr.Segmentations[0].Name != "tier" || tr.Segmentations[1].Name != "grid" {
		t.Fatalf("order: %v, %v", tr.Segmentations[0].Name, tr.Segmentations[1].Name)
	}
	if got := tr.Segmentations[1].Decision.Segment; got != "vip_grid" {
		t.Errorf("grid = %s", got)
	}
}

// TestExplainGolden renders the trace of every retail test case. Run
// with -update after a deliberate change and review the diff.
func TestExplainGolden(t *testing.T) {
	rs := loadRetail(t)
	e := engine.New(rs)
	var buf bytes.Buffer
	for _, tc := range rs.Tests {
		c, err := ruletest.Customer(rs, tc)
		if err != nil {
			t.Fatal(err)
		}
		var one bytes.Buffer
		writeTrace(&one, e.Explain(tc.AsOf, c))
		fmt.Fprintf(&buf, "## %s\n", tc.Name)
		for line := range strings.Lines(one.String()) {
			buf.WriteString(strings.TrimRight(line, " \n") + "\n")
		}
		buf.WriteString("\n")
	}
	golden := filepath.Join("testdata", "explain_retail.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestExplainGolden -update)", err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("trace differs from %s (run with -update and review the diff):\n%s", golden, got)
	}
}

// writeTrace renders a trace as plain text.
func writeTrace(w *bytes.Buffer, tr *engine.Trace) {
	fmt.Fprintf(w, "customer %s as of %s\n", tr.Key, ymd(tr.AsOf))
	for _, st := range tr.Segmentations {
		fmt.Fprintf(w, "%s (previous %s): %s by %s", st.Name, assignment(st.Previous), assignment(st.Decision.Assignment), st.Decision.Reason)
		if st.Decision.Matched != st.Decision.Segment {
			fmt.Fprintf(w, ", %s matched", st.Decision.Matched)
		}
		w.WriteString("\n")
		for _, rt := range st.Tried {
			fmt.Fprintf(w, "  %-12s %-11s %s", rt.Segment, rt.Outcome, rt.When)
			if len(rt.Reads) > 0 {
				fmt.Fprintf(w, "  %s", factValues(rt.Reads))
			}
			if rt.Error != "" {
				fmt.Fprintf(w, "  error: %s", firstLine(rt.Error))
			}
			w.WriteString("\n")
		}
		if st.Note != "" {
			fmt.Fprintf(w, "  note: %s\n", st.Note)
		}
	}
	for _, at := range tr.Actions {
		fmt.Fprintf(w, "action %s: %s", at.Name, at.Outcome)
		if at.Why != "" {
			fmt.Fprintf(w, " (%s)", firstLine(at.Why))
		}
		if q := at.Queued; q != nil {
			fmt.Fprintf(w, " due %s priority %d payload %v", ymd(q.Due), q.Priority, q.Payload)
		}
		w.WriteString("\n")
	}
}

func assignment(a engine.Assignment) string {
	if a.Segment == "" {
		return "none"
	}
	s := a.Segment + " since " + ymd(a.Since)
	if !a.PendingSince.IsZero() {
		s += " pending since " + ymd(a.PendingSince)
	}
	return s
}

func factValues(fvs []engine.FactValue) string {
	parts := make([]string, len(fvs))
	for i, fv := range fvs {
		v := fmt.Sprint(fv.Value)
		switch x := fv.Value.(type) {
		case nil:
			v = "null"
		case time.Time:
			v = ymd(x)
		}
		parts[i] = fv.Name + "=" + v
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func ymd(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.Format(time.DateOnly)
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
