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
