package main

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tierflow/tierflow/jobs"
)

// After each applied run the coverage gauges are the run's, a target
// removed from the rule file goes away, and the withheld actions are
// counted by status; a run that did not apply changes neither.
func TestCoverageAndWithheldMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	rep := &jobs.PlanReport{
		Customers: 100,
		Actions: []jobs.ActionReport{
			{Name: "vip_call", Count: 3, HeldOut: 1},
			{Name: "vip_mail", Count: 2, Suppressed: 4},
		},
		Coverage: []jobs.CoverageReport{
			{Segmentation: "tier", Segment: "vip", Due: 10, Covered: 6, Pending: 3, Overdue: 1, Share: 0.6},
			{Segmentation: "tier", Segment: "gold", Due: 0, Share: 0},
		},
	}
	m.RunFinished("shop", jobs.StatusSucceeded, time.Second, rep)
	want := `
# HELP tierflow_actions_withheld_total Actions that fired but were not queued: held out (the holdout group) or suppressed (a contact limit), counted when a run applies.
# TYPE tierflow_actions_withheld_total counter
tierflow_actions_withheld_total{action="vip_call",ruleset="shop",status="held_out"} 1
tierflow_actions_withheld_total{action="vip_call",ruleset="shop",status="suppressed"} 0
tierflow_actions_withheld_total{action="vip_mail",ruleset="shop",status="held_out"} 0
tierflow_actions_withheld_total{action="vip_mail",ruleset="shop",status="suppressed"} 4
# HELP tierflow_segment_coverage_customers Customers of a segment with a coverage target after the last applied run, by state (covered, pending, overdue).
# TYPE tierflow_segment_coverage_customers gauge
tierflow_segment_coverage_customers{ruleset="shop",segment="gold",segmentation="tier",state="covered"} 0
tierflow_segment_coverage_customers{ruleset="shop",segment="gold",segmentation="tier",state="overdue"} 0
tierflow_segment_coverage_customers{ruleset="shop",segment="gold",segmentation="tier",state="pending"} 0
tierflow_segment_coverage_customers{ruleset="shop",segment="vip",segmentation="tier",state="covered"} 6
tierflow_segment_coverage_customers{ruleset="shop",segment="vip",segmentation="tier",state="overdue"} 1
tierflow_segment_coverage_customers{ruleset="shop",segment="vip",segmentation="tier",state="pending"} 3
# HELP tierflow_segment_coverage_ratio Share of a segment's customers covered by its coverage target after the last applied run (0 when the segment is empty).
# TYPE tierflow_segment_coverage_ratio gauge
tierflow_segment_coverage_ratio{ruleset="shop",segment="gold",segmentation="tier"} 0
tierflow_segment_coverage_ratio{ruleset="shop",segment="vip",segmentation="tier"} 0.6
`
	names := []string{"tierflow_actions_withheld_total", "tierflow_segment_coverage_customers", "tierflow_segment_coverage_ratio"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	// A blocked run changes nothing; the next applied run replaces the
	// gauges (gold lost its target) and adds to the counters.
	blocked := *rep
	blocked.Coverage = []jobs.CoverageReport{{Segmentation: "tier", Segment: "vip", Due: 10, Covered: 0, Share: 0}}
	m.RunFinished("shop", jobs.StatusBlocked, time.Second, &blocked)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Errorf("a blocked run changed the metrics: %v", err)
	}
	next := &jobs.PlanReport{
		Actions:  []jobs.ActionReport{{Name: "vip_call", HeldOut: 2}},
		Coverage: []jobs.CoverageReport{{Segmentation: "tier", Segment: "vip", Due: 8, Covered: 8, Share: 1}},
	}
	m.RunFinished("shop", jobs.StatusSucceeded, time.Second, next)
	if got := testutil.ToFloat64(m.withheld.WithLabelValues("shop", "vip_call", jobs.ActionHeldOut)); got != 3 {
		t.Errorf("held out vip_call = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.coverage.WithLabelValues("shop", "tier", "vip")); got != 1 {
		t.Errorf("coverage of vip = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.coverage); n != 1 {
		t.Errorf("%d coverage series after gold lost its target, want 1", n)
	}
	if n := testutil.CollectAndCount(m.coverageCustomers); n != 3 {
		t.Errorf("%d coverage customer series, want 3", n)
	}
	// Every metric name and label is valid in the text format.
	if _, err := reg.Gather(); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// The outcome endpoint's counters lint clean and start at zero for every
// result.
func TestOutcomeMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := newOutcomeMetrics(reg)
	m.outcomes.WithLabelValues("shop", "vip_call", "failed", "").Inc()
	if n := testutil.CollectAndCount(m.requests); n != len(outcomeResults) {
		t.Errorf("%d request series, want %d", n, len(outcomeResults))
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
