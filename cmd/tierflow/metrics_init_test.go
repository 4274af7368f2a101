package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// fakeRunRecord is a run record of succeeded runs by rule set; onRead,
// when set, is called as a latest run is read.
type fakeRunRecord struct {
	mu      sync.Mutex
	latest  map[string]int64
	runs    map[int64]kernel.Run
	reports map[int64]*jobs.PlanReport
	onRead  func()
}

func (f *fakeRunRecord) LastSucceeded(_ context.Context, ruleset string) (jobs.PreviousRun, bool, error) {
	f.mu.Lock()
	id, ok := f.latest[ruleset]
	read := f.onRead
	f.mu.Unlock()
	if read != nil {
		read()
	}
	return jobs.PreviousRun{ID: id}, ok, nil
}

func (f *fakeRunRecord) RunReport(_ context.Context, id int64) (kernel.Run, *jobs.PlanReport, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.runs[id]
	return r, f.reports[id], ok, nil
}

// succeed records run id of ruleset as its latest success.
func (f *fakeRunRecord) succeed(ruleset string, id int64, finished time.Time, rep *jobs.PlanReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latest[ruleset] = id
	f.runs[id] = kernel.Run{ID: id, RuleSet: ruleset, Status: "succeeded", Started: finished.Add(-time.Second), Finished: &finished}
	f.reports[id] = rep
}

// tierReport is the report of an applied run of shop: segment sizes of
// tier (with customers of a removed segment) and vip's coverage.
func tierReport(sizes map[string]int, vipShare float64) *jobs.PlanReport {
	seg := jobs.SegmentationReport{Name: "tier"}
	for _, name := range []string{"vip", "gold", "small", removedSegment} {
		if n, ok := sizes[name]; ok {
			seg.Segments = append(seg.Segments, jobs.SegmentReport{Name: name, Before: n, After: n})
		}
	}
	return &jobs.PlanReport{
		Segmentations: []jobs.SegmentationReport{seg},
		Coverage:      []jobs.CoverageReport{{Segmentation: "tier", Segment: "vip", Due: 4, Covered: 2, Overdue: 2, Share: vipShare}},
	}
}

func shopRuleSet(hash string, actions ...*rules.Action) *rules.RuleSet {
	return &rules.RuleSet{Name: "shop", Hash: hash, Segmentations: []*rules.Segmentation{{Name: "tier"}}, Actions: actions}
}

// A new process exports every counter of its rule sets at 0, the last
// success and the state gauges of the latest succeeded run in the
// database (0 for a rule set that never succeeded), and, after a reload,
// the new rule set's counters.
func TestMetricsStartUp(t *testing.T) {
	t.Parallel()
	finished := time.Date(2024, 7, 1, 2, 0, 3, 500_000_000, time.UTC)
	rec := &fakeRunRecord{latest: map[string]int64{}, runs: map[int64]kernel.Run{}, reports: map[int64]*jobs.PlanReport{}}
	rec.succeed("shop", 7, finished, tierReport(map[string]int{"vip": 3, "small": 5, removedSegment: 2}, 0.5))

	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	outcomes := &outcomeHandler{metrics: newOutcomeMetrics(reg), digests: tokenDigests([]string{"0123456789abcdef"})}
	var mu sync.Mutex
	current := map[string]*rules.RuleSet{
		"shop":  shopRuleSet("h1", &rules.Action{Name: "vip_call", Outcomes: []string{"reached"}}),
		"fresh": {Name: "fresh", Hash: "f1"},
	}
	ruleSet := func(name string) *rules.RuleSet { mu.Lock(); defer mu.Unlock(); return current[name] }
	cfg := &config{dir: "/etc/tierflow"}
	sets := []configured{{rs: current["shop"], cfg: &ruleSetConfig{Rules: "rules/shop.yaml"}}, {rs: current["fresh"], cfg: &ruleSetConfig{Rules: "/srv/fresh.yaml"}}}
	m.start(context.Background(), metricsSource{cfg: cfg, store: rec, sets: sets, ruleSet: ruleSet, outcomes: outcomes, logger: slog.New(slog.NewTextHandler(io.Discard, nil))})

	gatherAndCompare(t, reg, `
tierflow_actions_queued_total{action="vip_call",ruleset="shop"} 0
tierflow_actions_withheld_total{action="vip_call",ruleset="shop",status="held_out"} 0
tierflow_actions_withheld_total{action="vip_call",ruleset="shop",status="suppressed"} 0
tierflow_last_success_timestamp_seconds{ruleset="fresh"} 0
tierflow_last_success_timestamp_seconds{ruleset="shop"} 1.7197992035e+09
tierflow_moves_total{ruleset="shop",segmentation="tier"} 0
tierflow_outcomes_total{action="vip_call",outcome="",ruleset="shop",status="failed"} 0
tierflow_outcomes_total{action="vip_call",outcome="reached",ruleset="shop",status="done"} 0
tierflow_rule_errors_total{ruleset="fresh"} 0
tierflow_rule_errors_total{ruleset="shop"} 0
tierflow_rule_reload_failures_total{file="/etc/tierflow/rules/shop.yaml"} 0
tierflow_rule_reload_failures_total{file="/srv/fresh.yaml"} 0
tierflow_runs_total{ruleset="fresh",status="blocked"} 0
tierflow_runs_total{ruleset="fresh",status="cancelled"} 0
tierflow_runs_total{ruleset="fresh",status="failed"} 0
tierflow_runs_total{ruleset="fresh",status="skipped"} 0
tierflow_runs_total{ruleset="fresh",status="succeeded"} 0
tierflow_runs_total{ruleset="shop",status="blocked"} 0
tierflow_runs_total{ruleset="shop",status="cancelled"} 0
tierflow_runs_total{ruleset="shop",status="failed"} 0
tierflow_runs_total{ruleset="shop",status="skipped"} 0
tierflow_runs_total{ruleset="shop",status="succeeded"} 0
tierflow_segment_coverage_ratio{ruleset="shop",segment="vip",segmentation="tier"} 0.5
tierflow_segment_customers{ruleset="shop",segment="small",segmentation="tier"} 5
tierflow_segment_customers{ruleset="shop",segment="vip",segmentation="tier"} 3
tierflow_slots_missed_total{ruleset="fresh"} 0
tierflow_slots_missed_total{ruleset="shop"} 0
`)
	if n := testutil.CollectAndCount(m.duration); n != 2 {
		t.Errorf("%d duration histograms, want one per rule set", n)
	}

	// A failing run of fresh leaves its last success at 0; a success of
	// shop replaces its segments (vip became gold).
	m.RunFinished("fresh", jobs.StatusFailed, time.Second, nil)
	m.RunFinished("shop", jobs.StatusSucceeded, time.Second, tierReport(map[string]int{"gold": 3, "small": 6}, 0.75))
	gatherAndCompare(t, reg, `tierflow_last_success_timestamp_seconds{ruleset="fresh"} 0`, `ruleset="fresh"`)
	gatherAndCompare(t, reg, `
tierflow_segment_coverage_ratio{ruleset="shop",segment="vip",segmentation="tier"} 0.75
tierflow_segment_customers{ruleset="shop",segment="gold",segmentation="tier"} 3
tierflow_segment_customers{ruleset="shop",segment="small",segmentation="tier"} 6
`)
	if got := testutil.ToFloat64(m.runs.WithLabelValues("fresh", "failed")); got != 1 {
		t.Errorf("failed runs of fresh = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.lastSuccess.WithLabelValues("shop")); time.Since(time.Unix(int64(got), 0)) > time.Minute {
		t.Errorf("the last success of shop is %v after a success now", got)
	}

	// A reload that adds an action: the scheduler is given the new
	// version (NextRun), and its counters appear.
	mu.Lock()
	current["shop"] = shopRuleSet("h2", &rules.Action{Name: "vip_call", Outcomes: []string{"reached"}}, &rules.Action{Name: "gold_mail"})
	mu.Unlock()
	m.NextRun("shop", time.Now().Add(time.Hour))
	// NextRun initialises in a goroutine, the actions' counters before
	// their outcomes': wait for the last of them.
	for deadline := time.Now().Add(10 * time.Second); (testutil.CollectAndCount(m.actions) < 2 ||
		testutil.CollectAndCount(outcomes.metrics.outcomes) < 4) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	gatherAndCompare(t, reg, `
tierflow_actions_queued_total{action="gold_mail",ruleset="shop"} 0
tierflow_actions_queued_total{action="vip_call",ruleset="shop"} 0
tierflow_outcomes_total{action="gold_mail",outcome="",ruleset="shop",status="done"} 0
tierflow_outcomes_total{action="gold_mail",outcome="",ruleset="shop",status="failed"} 0
tierflow_outcomes_total{action="vip_call",outcome="",ruleset="shop",status="failed"} 0
tierflow_outcomes_total{action="vip_call",outcome="reached",ruleset="shop",status="done"} 0
`)

	// Another replica (or tierflow apply) succeeds: the next refresh shows
	// its run. One that read the database before this process observed a
	// success of its own does not overwrite it.
	later := finished.Add(24 * time.Hour)
	rec.succeed("shop", 9, later, tierReport(map[string]int{"vip": 1, "small": 8}, 1))
	m.refreshNow(t)
	gatherAndCompare(t, reg, `
tierflow_last_success_timestamp_seconds{ruleset="shop"} 1.7198856035e+09
tierflow_segment_coverage_ratio{ruleset="shop",segment="vip",segmentation="tier"} 1
tierflow_segment_customers{ruleset="shop",segment="small",segmentation="tier"} 8
tierflow_segment_customers{ruleset="shop",segment="vip",segmentation="tier"} 1
`, `ruleset="shop"`)
	rec.succeed("shop", 10, later.Add(time.Hour), tierReport(map[string]int{"vip": 2}, 0))
	rec.mu.Lock()
	rec.onRead = func() {
		rec.mu.Lock()
		rec.onRead = nil
		rec.mu.Unlock()
		m.RunFinished("shop", jobs.StatusSucceeded, time.Second, tierReport(map[string]int{"vip": 4}, 0.25))
	}
	rec.mu.Unlock()
	m.refreshNow(t)
	gatherAndCompare(t, reg, `
tierflow_segment_coverage_ratio{ruleset="shop",segment="vip",segmentation="tier"} 0.25
tierflow_segment_customers{ruleset="shop",segment="vip",segmentation="tier"} 4
`, `ruleset="shop"`)

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// refreshNow reads the run record as a scrape a minute later would.
func (m *metrics) refreshNow(t *testing.T) {
	t.Helper()
	m.init.refreshMu.Lock()
	defer m.init.refreshMu.Unlock()
	m.refresh(context.Background(), m.init.src)
}

// gatherAndCompare compares the series of reg named in want, and whose
// line contains filter, with want: lines of the text format.
func gatherAndCompare(t *testing.T, reg *prometheus.Registry, want string, filter ...string) {
	t.Helper()
	names := map[string]bool{}
	var wantLines []string
	for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
		names[seriesName(line)] = true
		wantLines = append(wantLines, line)
	}
	var got []string
	for _, line := range strings.Split(scrapeText(t, reg), "\n") {
		if line == "" || strings.HasPrefix(line, "#") || !names[seriesName(line)] {
			continue
		}
		if len(filter) > 0 && !strings.Contains(line, filter[0]) {
			continue
		}
		got = append(got, line)
	}
	if g, w := strings.Join(got, "\n"), strings.Join(wantLines, "\n"); g != w {
		t.Errorf("metrics:\n%s\nwant:\n%s", g, w)
	}
}

// seriesName is the metric name of a line of the text format.
func seriesName(line string) string {
	if i := strings.IndexAny(line, "{ "); i >= 0 {
		return line[:i]
	}
	return line
}

// scrapeText is what /metrics serves from reg.
func scrapeText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// TestRunCountedLast scrapes while first runs of many rule sets succeed:
// a scrape that counts a rule set's success shows its segment sizes and
// coverage too, as the promtool rules and TestAlertMetricsExported
// expect of the first scrape after a success.
func TestRunCountedLast(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	const sets = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range sets {
			m.RunFinished(fmt.Sprintf("rs%d", i), jobs.StatusSucceeded, time.Second, tierReport(map[string]int{"vip": 1, "small": 1}, 0.5))
		}
	}()
	for scrapes := 0; ; scrapes++ {
		select {
		case <-done:
			if scrapes == 0 {
				t.Fatal("no scrape ran beside the runs")
			}
			return
		default:
		}
		families, err := m.gatherer(reg).Gather()
		if err != nil {
			t.Fatal(err)
		}
		counted, shown := map[string]bool{}, map[string]map[string]bool{}
		for _, f := range families {
			for _, s := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range s.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				rs := labels["ruleset"]
				switch f.GetName() {
				case "tierflow_runs_total":
					if labels["status"] == "succeeded" && s.GetCounter().GetValue() >= 1 {
						counted[rs] = true
					}
				case "tierflow_segment_customers", "tierflow_segment_coverage_ratio", "tierflow_last_success_timestamp_seconds":
					if shown[rs] == nil {
						shown[rs] = map[string]bool{}
					}
					shown[rs][f.GetName()] = true
				}
			}
		}
		for rs := range counted {
			if len(shown[rs]) != 3 {
				t.Fatalf("scrape %d counts a success of %s but shows only %v of its gauges", scrapes, rs, shown[rs])
			}
		}
	}
}
