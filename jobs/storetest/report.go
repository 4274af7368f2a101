package storetest

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// stateReportCases are the cases of what class reports read.
var stateReportCases = []stateCase{
	{"report: the run record streams runs by start with their reports, and the queue counts by action, status and segments", testReportSource},
	{"report: a class report of seven monthly applies of generated customers says what the history and the queue say", testReportAgainstHistory},
}

// RunReport runs the class report cases against stores from newStore,
// as RunEffects runs the effects cases.
func RunReport(t *testing.T, newStore func(t *testing.T) StateBackend) {
	for _, c := range stateReportCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStore)
		})
	}
}

// reportSource is the store under test as a ReportSource.
func reportSource(t *testing.T, s StateStore) jobs.ReportSource {
	t.Helper()
	src, ok := s.(jobs.ReportSource)
	if !ok {
		t.Fatalf("%T cannot read class reports (jobs.ReportSource)", s)
	}
	return src
}

// started is when the case's run of day d starts (and ends: its clock
// stands still).
func started(d int) time.Time { return day(d).Add(90 * time.Minute) }

// testReportSource applies the effects case's three days (everyone
// active; everyone but Z at risk, with calls queued or held out and a
// segment sync per move; a and é churned), then a fourth that its guard
// blocks, and two runs of another rule set; one queued call is
// cancelled.
func testReportSource(t *testing.T, newStore func(t *testing.T) StateBackend) {
	e := newStateEnv(t, newStore, 0)
	src := reportSource(t, e.s)
	rs := effectsRuleSet(t)
	days := keyedFacts{}
	apply := func(rs *rules.RuleSet, d int, guard jobs.Guard) error {
		o := jobs.Options{Workers: 2, BatchSize: 3, Sync: map[string][]string{"lifecycle": {"crm"}}, Guard: guard, AsOf: day(d),
			Now: func() time.Time { return started(d) }}
		_, err := jobs.Apply(context.Background(), e.s, days, rs, o)
		return err
	}
	mustApply := func(rs *rules.RuleSet, d int) {
		if err := apply(rs, d, jobs.Guard{MaxErrorRate: -1}); err != nil {
			t.Fatalf("apply %s day %d: %v", rs.Name, d, err)
		}
	}
	mustApply(rs, 0)
	mustApply(otherRuleSet(t), 0)
	for _, k := range effectsKeys {
		if k != "Z" {
			days[k] = 40
		}
	}
	mustApply(rs, 1)
	mustApply(otherRuleSet(t), 1)
	days["a"], days["é"] = 70, 70
	mustApply(rs, 2)
	days["b"] = 70
	if err := apply(rs, 3, jobs.Guard{MaxErrorRate: -1, MaxMovedShare: 0.01}); err == nil {
		t.Fatal("day 3: the guard let 1 move of 7 through a limit of 1%")
	}
	cancelled, _ := changeTwoCalls(t, e, rs, slices.Sorted(slices.Values(effectsKeys)))

	checkRunRecords(t, src, rs)
	checkActionCounts(t, e, src, rs, cancelled)
	checkClassReport(t, e.s, src, rs)
}

// otherRuleSet is the effects rule set under another name.
func otherRuleSet(t *testing.T) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("other.yaml", []byte(strings.Replace(effectsRules, "ruleset: effects", "ruleset: other", 1)), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// runText is what the case compares of a run record.
func runText(r *jobs.RunRecord) string {
	s := fmt.Sprintf("day %d %s %s started %s finished %s: %d customers, %d changed, %d actions, %d errors",
		rules.DaysBetween(asOf, r.AsOf), r.Kind, r.Status, r.Started.Format(time.TimeOnly), r.Finished.Format(time.TimeOnly),
		r.Customers, r.Changed, r.Actions, r.Errors)
	if !r.Slot.IsZero() {
		s += " slot " + r.Slot.Format(time.RFC3339)
	}
	if r.Error != "" {
		s += "; " + r.Error
	}
	return s
}

func readRunRecords(t *testing.T, src jobs.ReportSource, ruleset string, from, until time.Time) []jobs.RunRecord {
	t.Helper()
	var out []jobs.RunRecord
	err := src.RunRecords(context.Background(), ruleset, from, until, func(r *jobs.RunRecord) error {
		out = append(out, *r)
		return nil
	})
	if err != nil {
		t.Fatalf("run records: %v", err)
	}
	return out
}

// checkRunRecords reads the runs of [day 0, day 3]: four, oldest first,
// each with its report; the bounds of a read are included.
func checkRunRecords(t *testing.T, src jobs.ReportSource, rs *rules.RuleSet) {
	t.Helper()
	runs := readRunRecords(t, src, rs.Name, day(0), started(3))
	var got []string
	for i := range runs {
		got = append(got, runText(&runs[i]))
	}
	// The limit's message is the guard's; the case checks it is kept.
	blocked := ""
	if len(runs) == 4 && runs[3].Report != nil && len(runs[3].Report.Guard.Reasons) > 0 {
		blocked = "; " + runs[3].Report.Guard.Reasons[0]
	}
	want := []string{
		"day 0 apply succeeded started 01:30:00 finished 01:30:00: 7 customers, 7 changed, 0 actions, 0 errors",
		"day 1 apply succeeded started 01:30:00 finished 01:30:00: 7 customers, 6 changed, 3 actions, 0 errors", // 3 more held out
		"day 2 apply succeeded started 01:30:00 finished 01:30:00: 7 customers, 2 changed, 0 actions, 0 errors",
		"day 3 apply blocked started 01:30:00 finished 01:30:00: 7 customers, 1 changed, 0 actions, 0 errors" + blocked,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("run records:\n got %q\nwant %q", got, want)
	}
	for i := 1; i < len(runs); i++ {
		if runs[i].ID <= runs[i-1].ID {
			t.Errorf("run ids %d then %d: want the record's order", runs[i-1].ID, runs[i].ID)
		}
	}
	checkStoredReports(t, runs)
	for _, tc := range []struct {
		from, until time.Time
		days        []int
	}{
		{day(1), day(2), []int{1, 2}},
		{day(1).Add(time.Microsecond), day(2).Add(-time.Microsecond), nil},
		{started(1), started(2), []int{2}}, // by as-of, not by start
		{day(4), day(10), nil},
	} {
		var got []int
		for _, r := range readRunRecords(t, src, rs.Name, tc.from, tc.until) {
			got = append(got, rules.DaysBetween(asOf, r.AsOf))
		}
		if !slices.Equal(got, tc.days) {
			t.Errorf("runs as of [%s, %s]: days %v, want %v", tc.from.Format(time.RFC3339Nano), tc.until.Format(time.RFC3339Nano), got, tc.days)
		}
	}
	if other := readRunRecords(t, src, "other", day(0), day(10)); len(other) != 2 {
		t.Errorf("%d runs of rule set other; want its two", len(other))
	}
}

// checkStoredReports: each run's report is the one it stored, churn
// counts included.
func checkStoredReports(t *testing.T, runs []jobs.RunRecord) {
	t.Helper()
	for _, r := range runs {
		if r.Report == nil || r.Report.RuleSet != "effects" || !r.Report.AsOf.Equal(r.AsOf) {
			t.Fatalf("run of day %d: stored report %+v", rules.DaysBetween(asOf, r.AsOf), r.Report)
		}
	}
	day2 := runs[2].Report.Segmentations
	churned := map[string]int{}
	for _, sr := range day2 {
		for _, seg := range sr.Segments {
			if seg.Churned == nil {
				t.Fatalf("day 2: %s.%s has no churn count", sr.Name, seg.Name)
			}
			churned[sr.Name+"."+seg.Name] = *seg.Churned
		}
	}
	if want := map[string]int{"lifecycle.churned": 0, "lifecycle.at_risk": 2, "lifecycle.active": 0, "tier.vip": 0, "tier.regular": 2}; !maps.Equal(churned, want) {
		t.Errorf("day 2's churn counts %v, want %v", churned, want)
	}
	if g := runs[3].Report.Guard; !g.Blocked || len(g.Reasons) == 0 {
		t.Errorf("the blocked run's stored guard %+v", g)
	}
}

// countText is one count, segments in key order.
func countText(action, status string, segments map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(segments)) {
		parts = append(parts, k+"="+segments[k])
	}
	return action + " " + status + " {" + strings.Join(parts, " ") + "}"
}

func readActionCounts(t *testing.T, src jobs.ReportSource, ruleset string, from, until time.Time) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := src.ActionCounts(context.Background(), ruleset, from, until, func(c *jobs.ActionCount) error {
		k := countText(c.Action, c.Status, c.Segments)
		if _, ok := out[k]; ok {
			t.Errorf("%s counted twice", k)
		}
		out[k] += c.Count
		return nil
	})
	if err != nil {
		t.Fatalf("action counts: %v", err)
	}
	return out
}

// checkActionCounts compares the counts with the queue's rows, segment
// syncs left out; the bounds are the actions' as-of, included.
func checkActionCounts(t *testing.T, e *stateEnv, src jobs.ReportSource, rs *rules.RuleSet, cancelled string) {
	t.Helper()
	want := map[string]int64{}
	syncs := 0
	for _, q := range e.queue(kernel.ActionFilter{RuleSet: rs.Name}) {
		if strings.HasPrefix(q.Action, "sync.") {
			syncs++
			continue
		}
		want[countText(q.Action, q.Status, q.Segments)]++
	}
	if syncs == 0 || len(want) < 2 {
		t.Fatalf("the queue holds %d syncs and %v: the case needs both, and statuses", syncs, want)
	}
	if cancelled != "" && want[countText("winback_call", jobs.ActionCancelled, map[string]string{"lifecycle": "at_risk", "tier": "regular"})] != 1 {
		t.Errorf("the queue's counts %v hold no cancelled call", want)
	}
	if got := readActionCounts(t, src, rs.Name, day(0), day(10)); !maps.Equal(got, want) {
		t.Errorf("action counts:\n got %v\nwant %v", got, want)
	}
	if got := readActionCounts(t, src, rs.Name, day(1), day(1)); !maps.Equal(got, want) {
		t.Errorf("action counts of [day 1, day 1] (bounds included):\n got %v\nwant %v", got, want)
	}
	if got := readActionCounts(t, src, rs.Name, day(1).Add(time.Microsecond), day(10)); len(got) != 0 {
		t.Errorf("action counts after day 1: %v; want none", got)
	}
	if got := readActionCounts(t, src, "other", day(0), day(10)); len(got) == 0 {
		t.Error("no action counts of rule set other")
	}
}

// checkClassReport builds the report on the store: what it says of the
// runs and the queue is what the store holds.
func checkClassReport(t *testing.T, s StateStore, src jobs.ReportSource, rs *rules.RuleSet) {
	t.Helper()
	rep, err := jobs.BuildClassReport(context.Background(), src, rs, jobs.ClassReportOptions{From: day(1), Until: day(10), Effects: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 3 || len(rep.Sizes) != 2*5 || rep.Churn == nil {
		t.Fatalf("class report: %d runs, %d sizes, churn %v", len(rep.Runs), len(rep.Sizes), rep.Churn)
	}
	var churn []string
	for _, r := range rep.Churn.Rates {
		if r.Churned > 0 {
			churn = append(churn, fmt.Sprintf("%s.%s %d/%d", r.Segmentation, r.Segment, r.Churned, r.AtStart))
		}
	}
	if want := []string{"lifecycle.at_risk 2/0", "tier.regular 2/7"}; !reflect.DeepEqual(churn, want) {
		t.Errorf("churn %q, want %q (nobody was at risk before day 1)", churn, want)
	}
	var calls int64
	for _, a := range rep.Actions {
		if a.Segmentation == "tier" {
			calls += a.Count
		}
	}
	if calls != 6 {
		t.Errorf("%d calls in tier's classes, want 6", calls)
	}
	if _, ok := s.(jobs.EffectsSource); ok && (rep.Effects == nil || !rep.Effects.Latest.Equal(day(2))) {
		t.Errorf("effects %+v; want one compared up to day 2", rep.Effects)
	}
}
