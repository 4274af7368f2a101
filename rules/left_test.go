package rules_test

import (
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// leftRules is a rule set whose customers leave their segments when they
// leave the facts source; onMissing and the actions are filled in.
func leftRules(onMissing, actions string) string {
	return "ruleset: shop\n" + onMissing + `
facts:
  spend: number
segmentations:
  - name: value_tier
    segments:
      - {name: vip, when: spend >= 1000}
      - {name: regular, fallback: true}
actions:
` + actions
}

func TestOnMissing(t *testing.T) {
	t.Parallel()
	const act = "  - {name: a, when: spend > 0, cooldown: 1d}\n"
	for _, tt := range []struct {
		line string
		want rules.OnMissing
	}{
		{"", rules.OnMissingKeep},
		{"on_missing: keep", rules.OnMissingKeep},
		{"on_missing: exit", rules.OnMissingExit},
	} {
		rs := mustCompile(t, leftRules(tt.line, act))
		if rs.OnMissing != tt.want || rs.Exits() != (tt.want == rules.OnMissingExit) {
			t.Errorf("%q: OnMissing = %q, Exits() = %v", tt.line, rs.OnMissing, rs.Exits())
		}
	}
	// A typo is reported once: not again at each left() it would forbid.
	d := onlyError(t, compileErrors(t, leftRules("on_missing: exti", "  - {name: a, when: 'left(\"value_tier\")'}\n")))
	if got, want := d.String(), `test.yaml:2:13: on_missing: unknown on_missing policy "exti" (did you mean "exit"?)`; !strings.HasPrefix(got, want) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	d = onlyError(t, compileErrors(t, leftRules("on_missing: drop", act)))
	if !strings.Contains(d.Hint, "write keep (customers who vanish from the facts source stay in their segments) or exit (they move out)") {
		t.Errorf("hint = %q", d.Hint)
	}
}

// left("SEGMENTATION") compiles in an action of a rule set with
// on_missing: exit, marks the action, and reads the previous segment.
func TestLeftSource(t *testing.T) {
	t.Parallel()
	rs := mustCompile(t, leftRules("on_missing: exit", `
  - name: farewell
    when: left("value_tier") && previous.value_tier == "vip"
    payload: {tier: =previous.value_tier}
  - name: also
    when: spend > 0 || left("value_tier")
    cooldown: 1d
  - name: other
    when: left("value_tier", "vip")
  - name: in_payload
    when: entered("value_tier", "vip")
    payload: {gone: =left("value_tier")}
`))
	for name, want := range map[string]bool{"farewell": true, "also": true, "other": false, "in_payload": false} {
		if a, _ := rs.Action(name); a.CallsLeft != want {
			t.Errorf("%s: CallsLeft = %v, want %v", name, a.CallsLeft, want)
		}
	}
	if len(rs.Warnings) != 0 {
		t.Errorf("left() is a transition, so no cooldown warning: %v", rs.Warnings)
	}
	farewell, _ := rs.Action("farewell")
	if got := strings.Join(farewell.When.Reads, ","); got != "previous.value_tier" {
		t.Errorf("Reads = %s", got)
	}
	env := map[string]any{"spend": nil, "segment.value_tier": "", "previous.value_tier": "vip"}
	for _, tt := range []struct {
		absent bool
		prev   string
		want   bool
	}{{true, "vip", true}, {true, "regular", false}, {false, "vip", false}, {true, "", false}} {
		env[rules.AbsentVar], env["previous.value_tier"] = tt.absent, tt.prev
		if got, err := run(t, farewell.When, env); err != nil || got != tt.want {
			t.Errorf("absent %v, previous %q: %v, %v; want %v", tt.absent, tt.prev, got, err, tt.want)
		}
	}
}

func TestLeftSourceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		onMissing string
		action    string
		segWhen   string
		want      string
	}{
		{"unknown segmentation", "on_missing: exit", `left("value_teir")`, "",
			`test.yaml:12:17: actions.a.when: unknown segmentation "value_teir" (did you mean "value_tier"?)`},
		{"without on_missing", "", `left("value_tier")`, "",
			`test.yaml:12:12: actions.a.when: left("SEGMENTATION") needs on_missing: exit: with on_missing: keep a customer never leaves (add "on_missing: exit" at the top of the rule file`},
		{"with on_missing: keep", "on_missing: keep", `spend > 0 && left("value_tier")`, "",
			`test.yaml:12:25: actions.a.when: left("SEGMENTATION") needs on_missing: exit`},
		{"three arguments", "on_missing: exit", `left("value_tier", "vip", "x")`, "",
			`test.yaml:12:12: actions.a.when: left takes 1 or 2 arguments, not 3 (write left("SEGMENTATION", "SEGMENT") for a move out of a segment, or left("SEGMENTATION") for a customer who left the facts source)`},
		{"not in quotes", "on_missing: exit", `left(value_tier)`, "",
			`test.yaml:12:17: actions.a.when: left: argument 1 must be a name in quotes`},
		{"in a segment", "on_missing: exit", `spend > 0`, `left("value_tier")`,
			`test.yaml:8:28: segmentations.value_tier.segments.vip.when: left("SEGMENTATION") cannot be used in a segment's condition`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := leftRules(tt.onMissing, "  - name: a\n    when: '"+tt.action+"'\n    cooldown: 1d\n")
			if tt.segWhen != "" {
				src = strings.Replace(src, "when: spend >= 1000", "when: '"+tt.segWhen+"'", 1)
			}
			d := onlyError(t, compileErrors(t, src))
			if got := d.String(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	// In a payload too.
	src := leftRules("", "  - name: a\n    when: entered(\"value_tier\", \"vip\")\n    payload: {gone: '=left(\"value_tier\")'}\n")
	if d := onlyError(t, compileErrors(t, src)); d.Field != "actions.a.payload.gone" || !strings.Contains(d.Message, "needs on_missing: exit") || d.Pos.Col != 23 {
		t.Errorf("payload: got %s", d)
	}
}

// A test case may describe a customer who left the facts source, under
// on_missing: exit, with no facts; expect.segments may expect no segment.
func TestAbsentTestCase(t *testing.T) {
	t.Parallel()
	const cases = `
tests:
  - name: gone
    as_of: 2024-07-01
    absent: true
    previous: {value_tier: vip}
    expect: {segments: {value_tier: ~}, actions: [a]}
  - name: quoted empty
    as_of: 2024-07-01
    absent: false
    facts: {spend: 5}
    expect: {segments: {value_tier: ""}}
`
	rs := mustCompile(t, leftRules("on_missing: exit", "  - {name: a, when: 'left(\"value_tier\")'}\n")+cases)
	if !rs.Tests[0].Absent || rs.Tests[1].Absent {
		t.Errorf("Absent = %v, %v", rs.Tests[0].Absent, rs.Tests[1].Absent)
	}
	if got, ok := rs.Tests[0].Expect.Segments["value_tier"]; !ok || got != "" {
		t.Errorf("expect value_tier = %q, %v; want no segment", got, ok)
	}

	list := compileErrors(t, leftRules("", "  - {name: a, when: spend > 0, cooldown: 1d}\n")+`
tests:
  - name: gone
    as_of: 2024-07-01
    absent: true
    facts: {spend: 5}
    expect: {segments: {value_tier: regular}}
`)
	var got []string
	for _, d := range list {
		if d.Severity == rules.SeverityError {
			got = append(got, d.String())
		}
	}
	want := []string{
		`test.yaml:16:13: tests["gone"].absent: a test customer can be absent only when the rule set says on_missing: exit; with on_missing: keep absent customers keep their segments (add "on_missing: exit" at the top of the rule file, or remove absent)`,
		`test.yaml:17:12: tests["gone"].facts: an absent customer has no facts (remove facts: an absent customer's facts are all null)`,
	}
	if len(got) != len(want) {
		t.Fatalf("errors:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("got  %s\nwant %s", got[i], want[i])
		}
	}
}
