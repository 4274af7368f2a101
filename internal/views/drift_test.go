package views

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

// A plan whose marks drifted says so, with the customers' keys; one
// without drift, or without the report, says nothing of it.
func TestPlanTextWarnsOfDrift(t *testing.T) {
	for _, c := range []struct {
		incr *jobs.IncrementalReport
		want bool
	}{
		{&jobs.IncrementalReport{Asleep: 10, Drift: 2, DriftSamples: []string{"17", "42"}}, true},
		{&jobs.IncrementalReport{Asleep: 10}, false},
		{nil, false},
	} {
		var b bytes.Buffer
		writePlanText(&b, &jobs.PlanReport{Mode: "plan", RuleSet: "retail", Incremental: c.incr}, Style{})
		got := strings.Contains(b.String(), "2 customers changed although their wake-up times said nothing could (such as 17, 42)")
		if got != c.want {
			t.Errorf("%+v: warning shown %v, want %v:\n%s", c.incr, got, c.want, b.String())
		}
	}
}

// A customer the database decided unchanged whose evaluation changed
// something is named in a warning that says what to do.
func TestPlanTextMisdecided(t *testing.T) {
	var b bytes.Buffer
	writePlanText(&b, &jobs.PlanReport{Mode: "apply", RuleSet: "retail", Incremental: &jobs.IncrementalReport{Enabled: true, InDatabase: true,
		Checked: 40, Misdecided: 2, MisdecidedSamples: []string{"17", "93"}}}, Style{})
	if got := b.String(); !strings.Contains(got, "WARNING: 2 of the 40 customers PostgreSQL decided unchanged and this run checked did change (such as 17, 93)") ||
		!strings.Contains(got, "--engine-only") {
		t.Errorf("plan text:\n%s\nwant a warning naming 17 and 93 and --engine-only", got)
	}
	b.Reset()
	writePlanText(&b, &jobs.PlanReport{Mode: "apply", RuleSet: "retail", Incremental: &jobs.IncrementalReport{Enabled: true, InDatabase: true, Checked: 40}}, Style{})
	if strings.Contains(b.String(), "WARNING") {
		t.Errorf("a run whose checks all agreed warns:\n%s", b.String())
	}
}

// An incremental run's plan says whom it evaluated and why, how many it
// skipped and did not read, or why it evaluated or read everyone; other
// runs say nothing of it.
func TestPlanTextIncremental(t *testing.T) {
	for _, c := range []struct {
		incr *jobs.IncrementalReport
		want string
	}{
		{&jobs.IncrementalReport{Enabled: true, Evaluate: 1320, New: 20, Changed: 1300, Skipped: 98680, Asleep: 98680, NotRead: 98680},
			"  incremental: 1,320 evaluated (20 new, 1,300 with new facts), 98,680 asleep and skipped, 98,680 of them not read\n"},
		{&jobs.IncrementalReport{Enabled: true, Evaluate: 7, Waking: 5, Left: 2, Skipped: 93, Asleep: 93, ReadsAll: "the source repeats 1 customer keys"},
			"  incremental: 7 evaluated (5 waking, 2 gone from the source), 93 asleep and skipped; every customer was read: the source repeats 1 customer keys\n"},
		{&jobs.IncrementalReport{Enabled: true, Evaluate: 40, Changed: 40, Skipped: 960, Asleep: 960, NotRead: 960, InDatabase: true},
			"  incremental: 40 evaluated (40 with new facts), 960 asleep and skipped, 960 of them not read; PostgreSQL ran the rules first and left unread those they leave as they are\n"},
		{&jobs.IncrementalReport{Enabled: true, Evaluate: 90, Changed: 90, Skipped: 910, Asleep: 910, NotRead: 910, NotInDatabase: "facts.spend is converted in Go"},
			"  incremental: 90 evaluated (90 with new facts), 910 asleep and skipped, 910 of them not read; the engine evaluated every customer the marks selected: facts.spend is converted in Go\n"},
		{&jobs.IncrementalReport{Enabled: true, Full: "the rules changed since run 4", Evaluate: 70, InDatabase: true, Decided: 930, NotRead: 930, StaleMarks: true},
			"  incremental: the rules changed since run 4: PostgreSQL ran the rules on every customer; 70 evaluated, 930 unchanged and not read (their marks are not trusted until a run evaluates everyone)\n"},
		{&jobs.IncrementalReport{Enabled: true, Full: "the rules changed since run 4", Evaluate: 100},
			"  incremental: every customer evaluated: the rules changed since run 4\n"},
		{&jobs.IncrementalReport{Evaluate: 7, Asleep: 93}, ""},
	} {
		var b bytes.Buffer
		writePlanText(&b, &jobs.PlanReport{Mode: "plan", RuleSet: "retail", Incremental: c.incr}, Style{})
		got := ""
		for _, line := range strings.SplitAfter(b.String(), "\n") {
			if strings.HasPrefix(line, "  incremental:") {
				got += line
			}
		}
		if got != c.want {
			t.Errorf("%+v: %q, want %q", c.incr, got, c.want)
		}
	}
}

// A plan that skipped asleep customers does not call them evaluated, in
// text or in Markdown; one that evaluated everyone says so.
func TestPlanSaysWhomItEvaluated(t *testing.T) {
	skipped := &jobs.PlanReport{Mode: "plan", RuleSet: "retail", Customers: 100000,
		Incremental: &jobs.IncrementalReport{Enabled: true, Evaluate: 1320, Skipped: 98680, Asleep: 98680}}
	var b bytes.Buffer
	writePlanText(&b, skipped, Style{})
	if !strings.Contains(b.String(), "  100,000 customers, 1,320 of them evaluated (the others asleep), 0 change segment") {
		t.Errorf("text:\n%s", b.String())
	}
	if md := markdownPlan(skipped, 10000); !strings.Contains(md, "**100,000** customers, **1,320** of them evaluated (the others asleep)") {
		t.Errorf("markdown:\n%s", md)
	}
	b.Reset()
	writePlanText(&b, &jobs.PlanReport{Mode: "plan", RuleSet: "retail", Customers: 7}, Style{})
	if !strings.Contains(b.String(), "  7 customers evaluated, 0 change segment") {
		t.Errorf("text of a full plan:\n%s", b.String())
	}
}
