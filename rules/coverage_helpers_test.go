package rules_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

const vipCoverage = "        coverage: {every: 28d, by: [visit], counts: [reached]}\n"

// overdue() and days_since_covered() compile in actions' conditions and
// payloads into reads of the coverage state variables.
func TestCoverageHelpers(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, followRules("", vipCoverage, "", `    cooldown: 7d
  - name: care
    when: overdue("value_tier") && days_since_covered("value_tier") != 0
    cooldown: 7d
    payload:
      days: =days_since_covered("value_tier")
      late: =overdue("value_tier")
`))
	if rs.Fast == nil || rs.Fast.Actions == nil {
		t.Fatal("no fast path")
	}
	care, _ := rs.Action("care")
	vars := rules.VarsFor("value_tier")
	if want := []string{vars.Overdue, vars.DaysSinceCovered}; !slices.Equal(care.When.Reads, want) {
		t.Errorf("Reads = %v, want %v", care.When.Reads, want)
	}
	if got := care.Payload[0].Expr.Reads; !slices.Equal(got, []string{vars.DaysSinceCovered}) {
		t.Errorf("payload Reads = %v", got)
	}
	if care.When.Cost <= 0 || care.When.Cost > 20 {
		t.Errorf("Cost = %d", care.When.Cost)
	}
	for _, tt := range []struct {
		overdue bool
		days    int
		want    bool
	}{{true, 40, true}, {true, -1, true}, {false, 40, false}, {true, 0, false}} {
		env := map[string]any{vars.Overdue: tt.overdue, vars.DaysSinceCovered: tt.days}
		if got, err := run(t, care.When, env); err != nil || got != tt.want {
			t.Errorf("care with %v = %v, %v; want %v", env, got, err, tt.want)
		}
	}
	env := map[string]any{vars.Overdue: true, vars.DaysSinceCovered: 31}
	if got, err := run(t, care.Payload[0].Expr, env); err != nil || got != 31 {
		t.Errorf("days = %v, %v", got, err)
	}
	if got, err := run(t, care.Payload[1].Expr, env); err != nil || got != true {
		t.Errorf("late = %v, %v", got, err)
	}
}

// An action that fires on overdue() with no cooldown is queued on every
// run, like any condition that is no transition.
func TestOverdueWithoutCooldownWarns(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, followRules("", vipCoverage, "", "  - name: care\n    when: overdue(\"value_tier\")\n"))
	if len(rs.Warnings) != 1 || !strings.Contains(rs.Warnings[0].Message, `action "care" has no cooldown and no transition`) {
		t.Errorf("warnings = %v", rs.Warnings)
	}
}

// TestCoverageHelperErrors checks the errors of overdue() and
// days_since_covered(), at the position of the text at.
func TestCoverageHelperErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		vip     string // the vip segment's extra lines
		segment string // replaces lifecycle's churned condition
		when    string // a third action's condition
		at      string
		want    string
	}{
		{
			name: "in a segment condition", vip: vipCoverage, segment: `'overdue("value_tier")'`, at: `overdue("value_tier")'`,
			want: `segmentations.lifecycle.segments.churned.when: overdue("value_tier") cannot be used in a segment's condition: it reads the coverage of the segment the customer is in after the run (use it in an action's when: or payload, which are evaluated after every segment is decided)`,
		},
		{
			name: "days_since_covered in a segment condition", vip: vipCoverage, segment: `'spend == 0 && days_since_covered("value_tier") > 3'`, at: `days_since_covered("value_tier") >`,
			want: `segmentations.lifecycle.segments.churned.when: days_since_covered("value_tier") cannot be used in a segment's condition: it reads the coverage of the segment the customer is in after the run (use it in an action's when: or payload, which are evaluated after every segment is decided)`,
		},
		{
			name: "no coverage declared", when: `overdue("value_tier")`, at: `"value_tier")`,
			want: `actions.care.when: no segment of "value_tier" declares coverage (add coverage: {every: 28d, by: [ACTION], counts: [OUTCOME]} to one of its segments)`,
		},
		{
			name: "coverage of another segmentation", vip: vipCoverage, when: `days_since_covered("lifecycle") > 30`, at: `"lifecycle")`,
			want: `actions.care.when: no segment of "lifecycle" declares coverage (add coverage: {every: 28d, by: [ACTION], counts: [OUTCOME]} to one of its segments)`,
		},
		{
			name: "unknown segmentation", vip: vipCoverage, when: `overdue("value_teir")`, at: `"value_teir"`,
			want: `actions.care.when: unknown segmentation "value_teir" (did you mean "value_tier"?)`,
		},
		{
			name: "not a literal", vip: vipCoverage, when: `overdue(string(spend))`, at: `string(spend)`,
			want: `actions.care.when: overdue: argument 1 must be a name in quotes (write it in quotes, e.g. overdue("value_tier"))`,
		},
		{
			name: "no argument", vip: vipCoverage, when: `days_since_covered() > 1`, at: `days_since_covered()`,
			want: `actions.care.when: days_since_covered takes 1 argument(s), not 0 (write days_since_covered("SEGMENTATION"))`,
		},
		{
			name: "two arguments", vip: vipCoverage, when: `overdue("value_tier", "vip")`, at: `overdue(`,
			want: `actions.care.when: overdue takes 1 argument(s), not 2 (write overdue("SEGMENTATION"))`,
		},
		{
			name: "wrong type", vip: vipCoverage, when: `days_since_covered("value_tier")`, at: `days_since_covered`,
			want: `actions.care.when: a condition must be true or false, but this is an integer (compare it, e.g. ` + "`spend_12m >= 100`)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var care string
			if tt.when != "" {
				care = "  - name: care\n    cooldown: 1d\n    when: '" + tt.when + "'\n"
			}
			src := followRules("", tt.vip, "", care)
			if tt.segment != "" {
				src = strings.Replace(src, "when: spend == 0}", "when: "+tt.segment+"}", 1)
			}
			d := onlyError(t, compileErrors(t, src))
			got := d.Field + ": " + d.Message + " (" + d.Hint + ")"
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			line, col := runePos(src, tt.at)
			if d.Pos.Line != line || d.Pos.Col != col {
				t.Errorf("error at %d:%d, want %d:%d (at %q)\n%s", d.Pos.Line, d.Pos.Col, line, col, tt.at, d)
			}
		})
	}
}

// overdue and days_since_covered are helpers, so no fact can take their
// names, and a near miss suggests them.
func TestCoverageHelperNames(t *testing.T) {
	t.Parallel()
	d := onlyError(t, compileErrors(t, "ruleset: r\nfacts:\n  overdue: bool\nsegmentations:\n  - name: s\n    segments:\n      - {name: a, fallback: true}\n"))
	if d.Field != "facts.overdue" || d.Message != `"overdue" is a reserved name in expressions` {
		t.Errorf("got %s", d)
	}
	d = onlyError(t, compileErrors(t, followRules("", vipCoverage, "", "  - {name: care, cooldown: 1d, when: 'overdu(\"value_tier\")'}\n")))
	if !strings.Contains(d.String(), `unknown name "overdu" (did you mean "overdue"?)`) {
		t.Errorf("got %s", d)
	}
}
