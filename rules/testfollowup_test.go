package rules_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// followTests is followRules with limits, a coverage target on vip, a
// holdout on review, and the test cases given.
func followTests(tests string) string {
	return followRules("limits: {per_customer: 1 per 7d}\n", vipCoverage, "", "    holdout: 10%\ntests:\n"+tests)
}

func TestFollowUpTestCase(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, followTests(`  - name: a visited VIP
    as_of: 2024-07-01
    key: C042
    facts: {spend: 2000}
    outcomes:
      - {action: visit, outcome: reached, at: 2024-06-01}
      - {action: visit, outcome: no_answer, at: "2024-06-20T10:00:00Z"}
    contacts:
      - {action: review, at: 2024-06-28}
    expect:
      suppressed: [visit]
      held_out: []
      coverage: {value_tier: covered, lifecycle: none}
  - name: nothing checked
    as_of: 2024-07-01
    key: 42
    expect: {}
`))
	day := func(s string) time.Time { d, _ := time.Parse(time.RFC3339, s); return d }
	tc := rs.Tests[0]
	if tc.Key != "C042" {
		t.Errorf("Key = %q", tc.Key)
	}
	wantOutcomes := []rules.TestOutcome{
		{Action: "visit", Outcome: "reached", At: day("2024-06-01T00:00:00Z")},
		{Action: "visit", Outcome: "no_answer", At: day("2024-06-20T10:00:00Z")},
	}
	if !reflect.DeepEqual(tc.Outcomes, wantOutcomes) {
		t.Errorf("Outcomes = %+v", tc.Outcomes)
	}
	if want := []rules.TestContact{{Action: "review", At: day("2024-06-28T00:00:00Z")}}; !reflect.DeepEqual(tc.Contacts, want) {
		t.Errorf("Contacts = %+v", tc.Contacts)
	}
	e := tc.Expect
	if !reflect.DeepEqual(e.Suppressed, []string{"visit"}) || e.HeldOut == nil || len(e.HeldOut) != 0 {
		t.Errorf("Suppressed = %#v, HeldOut = %#v", e.Suppressed, e.HeldOut)
	}
	if want := map[string]string{"value_tier": "covered", "lifecycle": "none"}; !reflect.DeepEqual(e.Coverage, want) {
		t.Errorf("Coverage = %v", e.Coverage)
	}
	tc = rs.Tests[1]
	if tc.Key != "42" || tc.Outcomes != nil || tc.Contacts != nil || tc.Expect.Suppressed != nil || tc.Expect.HeldOut != nil || tc.Expect.Coverage != nil {
		t.Errorf("second case = %+v", tc)
	}
}

// TestFollowUpTestCaseErrors checks the errors of the follow-up keys of a
// test case, at the position of the text at.
func TestFollowUpTestCaseErrors(t *testing.T) {
	t.Parallel()
	const f = `tests["t"]`
	tests := []struct {
		name  string
		lines string // the case's keys after name and as_of
		at    string
		want  string
	}{
		{"outcome of an unknown action", "outcomes: [{action: vist, outcome: reached, at: 2024-06-01}]", "vist",
			f + `.outcomes[0].action: unknown action "vist" (did you mean "visit"?)`},
		{"outcome the action does not declare", "outcomes: [{action: visit, outcome: declined, at: 2024-06-01}]", "declined",
			f + `.outcomes[0].outcome: action "visit" has no outcome "declined" (expected one of: converted, no_answer, reached)`},
		{"outcome typo", "outcomes: [{action: visit, outcome: reachd, at: 2024-06-01}]", "reachd",
			f + `.outcomes[0].outcome: action "visit" has no outcome "reachd" (did you mean "reached"?)`},
		{"outcome of an action without outcomes", "outcomes: [{action: review, outcome: reached, at: 2024-06-01}]", "reached,",
			f + `.outcomes[0].outcome: action "review" has no outcome "reached" (review declares no outcomes: add outcomes: [reached] to it)`},
		{"outcome without at", "outcomes: [{action: visit, outcome: reached}]", "{action: visit",
			f + `.outcomes[0].at: "at" is required (such as at: 2024-06-01)`},
		{"outcome with a bad at", "outcomes: [{action: visit, outcome: reached, at: June}]", "June",
			f + `.outcomes[0].at: "June" is not a date (use 2024-06-30 or 2024-06-30T02:00:00Z)`},
		{"outcome with an unknown key", "outcomes: [{action: visit, outcome: reached, at: 2024-06-01, by: me}]", "by:",
			f + `.outcomes[0].by: unknown key "by" (expected one of: action, at, outcome)`},
		{"outcome not a mapping", "outcomes: [visit]", "visit]",
			f + `.outcomes[0]: must be a mapping (key: value lines), not a single value (write {action: ..., outcome: ..., at: ...})`},
		{"contact of an unknown action", "contacts: [{action: reveiw, at: 2024-06-01}]", "reveiw",
			f + `.contacts[0].action: unknown action "reveiw" (did you mean "review"?)`},
		{"contact without action", "contacts: [{at: 2024-06-01}]", "{at",
			f + `.contacts[0].action: "action" is required (such as {action: onboarding_message, at: 2024-06-28})`},
		{"contacts not a list", "contacts: {action: visit, at: 2024-06-01}", "{action",
			f + `.contacts: must be a list, not a mapping (key: value lines) (start each item with "- ")`},
		{"key not a single value", "key: [a, b]", "[a, b]",
			f + `.key: must be a single value, not a list`},
		{"suppressed unknown action", "expect: {suppressed: [vsit]}", "vsit",
			f + `.expect.suppressed[0]: unknown action "vsit" (did you mean "visit"?)`},
		{"suppressed twice", "expect: {suppressed: [visit, visit]}", "visit]",
			f + `.expect.suppressed[1]: action "visit" is listed twice (list each action once)`},
		{"held out without holdout", "expect: {held_out: [visit]}", "visit]",
			f + `.expect.held_out[0]: action "visit" has no holdout, so it is never held out (add holdout: 10% to the action, or remove it from held_out)`},
		{"coverage unknown state", "expect: {coverage: {value_tier: overdu}}", "overdu",
			f + `.expect.coverage.value_tier: unknown coverage state "overdu" (did you mean "overdue"?)`},
		{"coverage far state", "expect: {coverage: {value_tier: late}}", "late",
			f + `.expect.coverage.value_tier: unknown coverage state "late" (expected one of: covered, none, overdue, pending)`},
		{"coverage unknown segmentation", "expect: {coverage: {value: covered}}", "value:",
			f + `.expect.coverage.value: unknown segmentation "value" (expected one of: lifecycle, value_tier)`},
		{"coverage never declared", "expect: {coverage: {lifecycle: pending}}", "pending",
			f + `.expect.coverage.lifecycle: no segment of "lifecycle" declares coverage, so its coverage is always none (add coverage: to one of its segments, or expect none)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := followTests("  - name: t\n    as_of: 2024-07-01\n    " + tt.lines + "\n" + "    expect: {}\n")
			if strings.HasPrefix(tt.lines, "expect:") {
				src = strings.TrimSuffix(src, "    expect: {}\n")
			}
			d := onlyError(t, compileErrors(t, src))
			got := d.Field + ": " + d.Message
			if d.Hint != "" {
				got += " (" + d.Hint + ")"
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			// The case is the last thing in the file; at is in it.
			start := strings.Index(src, "  - name: t\n")
			line, col := runePos(src[start:], tt.at)
			line += strings.Count(src[:start], "\n")
			if d.Pos.Line != line || d.Pos.Col != col {
				t.Errorf("error at %d:%d, want %d:%d (at %q)\n%s", d.Pos.Line, d.Pos.Col, line, col, tt.at, d)
			}
		})
	}
}

// A rule set without limits never suppresses an action, so a test that
// expects one to be is a mistake in the test.
func TestSuppressedNeedsLimits(t *testing.T) {
	t.Parallel()
	src := followRules("", "", "", "tests:\n  - {name: t, as_of: 2024-07-01, expect: {suppressed: [visit]}}\n")
	d := onlyError(t, compileErrors(t, src))
	if want := `the rule set has no limits, so action "visit" is never suppressed`; d.Message != want || !strings.Contains(d.Hint, "add limits:") {
		t.Errorf("got %s", d)
	}
}
