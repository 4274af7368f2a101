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
