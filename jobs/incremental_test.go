package jobs

import (
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// A run's marks hold after a successful run of the same rules at an
// earlier or the same as-of, and not on a first run, without a previous
// run, after a change of the rules or before the previous run's as-of.
func TestFullReason(t *testing.T) {
	at := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	rs := &rules.RuleSet{Name: "r", Hash: "h1"}
	for _, c := range []struct {
		prev    *PreviousRun
		initial bool
		want    string
	}{
		{&PreviousRun{ID: 3, RulesHash: "h1", AsOf: at.AddDate(0, 0, -1)}, false, ""},
		{&PreviousRun{ID: 3, RulesHash: "h1", AsOf: at}, false, ""},
		{&PreviousRun{ID: 3, RulesHash: "h1", AsOf: at}, true, "first run"},
		{nil, false, "no successful run"},
		{&PreviousRun{ID: 3, RulesHash: "h0", AsOf: at.AddDate(0, 0, -1)}, false, "rules changed since run 3"},
		{&PreviousRun{ID: 3, RulesHash: "h1", AsOf: at.AddDate(0, 0, 1)}, false, "before run 3's (2024-07-02T00:00:00Z)"},
	} {
		got := fullReason(rs, at, c.prev, c.initial, nil)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("fullReason(%+v, initial %v) = %q, want %q", c.prev, c.initial, got, c.want)
		}
	}
}

// With a schedule of full runs, a run is full when one of its slots is
// after the last successful run's as-of and at or before its own, in
// the schedule's zone; otherwise the marks hold as without one.
func TestFullSchedule(t *testing.T) {
	weekly, err := ParseSchedule("0 0 * * 0", "Asia/Shanghai") // Sundays at midnight in Shanghai: Saturdays 16:00 UTC
	if err != nil {
		t.Fatal(err)
	}
	rs := &rules.RuleSet{Name: "r", Hash: "h1"}
	sat := time.Date(2024, 7, 6, 0, 0, 0, 0, time.UTC) // a Saturday
	prev := &PreviousRun{ID: 8, RulesHash: "h1", AsOf: sat}
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{sat.Add(15 * time.Hour), ""},
		{sat.Add(16 * time.Hour), "the full_schedule slot 2024-07-07T00:00:00+08:00 came since run 8"},
		{sat.AddDate(0, 0, 3), "the full_schedule slot 2024-07-07T00:00:00+08:00 came since run 8"},
	} {
		if got := fullReason(rs, c.at, prev, false, weekly); got != c.want {
			t.Errorf("as of %s: fullReason = %q, want %q", c.at, got, c.want)
		}
	}
	after := &PreviousRun{ID: 9, RulesHash: "h1", AsOf: sat.Add(16 * time.Hour)}
	if got := fullReason(rs, sat.AddDate(0, 0, 6), after, false, weekly); got != "" {
		t.Errorf("the day after a full run's slot: fullReason = %q, want the marks to hold", got)
	}
	if got := fullReason(rs, sat.AddDate(0, 0, 1), nil, false, weekly); !strings.Contains(got, "no successful run") {
		t.Errorf("without a previous run: fullReason = %q", got)
	}
}

// Each customer is counted under the first reason that applies, and only
// an asleep customer whose evaluation changed something drifts.
func TestClassify(t *testing.T) {
	at := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	w := &evaluator{asOf: at}
	later := engine.Mark{Wake: at.AddDate(0, 0, 3), Digest: 7}
	for _, c := range []struct {
		name   string
		c      engine.Customer
		digest uint64
		want   wakeReason
	}{
		{"left", engine.Customer{Absent: true, State: engine.State{Mark: later}}, 0, reasonLeft},
		{"no mark", engine.Customer{}, 7, reasonNew},
		{"new digest", engine.Customer{State: engine.State{Mark: later}}, 8, reasonChanged},
		{"no digest", engine.Customer{State: engine.State{Mark: later}}, 0, reasonChanged},
		{"fact errors", engine.Customer{FactErrors: []engine.FactError{{Fact: "x"}}, State: engine.State{Mark: later}}, 7, reasonChanged},
		{"wakes now", engine.Customer{State: engine.State{Mark: engine.Mark{Wake: at, Digest: 7}}}, 7, reasonWaking},
		{"every run", engine.Customer{State: engine.State{Mark: engine.Mark{Wake: engine.EveryRun, Digest: 7}}}, 7, reasonWaking},
		{"outcomes", engine.Customer{State: engine.State{Mark: later, Outcomes: []engine.ActionOutcome{{}}}}, 7, reasonFollowUps},
		{"asleep", engine.Customer{State: engine.State{Mark: later}}, 7, reasonAsleep},
		{"never wakes", engine.Customer{State: engine.State{Mark: engine.Mark{Digest: 7}}}, 7, reasonAsleep},
		{"wake in another zone", engine.Customer{State: engine.State{Mark: engine.Mark{Wake: at.In(time.FixedZone("x", 3600)), Digest: 7}}}, 7, reasonWaking},
	} {
		if got := w.classify(&c.c, c.digest); got != c.want {
			t.Errorf("%s: classify = %d, want %d", c.name, got, c.want)
		}
	}
	w.full = true
	if got := w.classify(&engine.Customer{State: engine.State{Mark: later}}, 7); got != reasonFull {
		t.Errorf("a full run: classify = %d, want reasonFull", got)
	}

	var r IncrementalReport
	for i, reason := range []wakeReason{reasonAsleep, reasonAsleep, reasonWaking, reasonFull, reasonNew} {
		r.count(reason, string(rune('a'+i)), true)
	}
	r.count(reasonAsleep, "z", false)
	if r.Asleep != 3 || r.Drift != 2 || r.Evaluate != 3 || r.Waking != 1 || r.New != 1 || strings.Join(r.DriftSamples, ",") != "a,b" {
		t.Errorf("counts %+v", r)
	}
	if !(engine.Mark{Wake: at.In(time.FixedZone("x", 3600)), Digest: 1}).Equal(engine.Mark{Wake: at, Digest: 1}) {
		t.Error("marks with the same instant in two zones differ")
	}
}
