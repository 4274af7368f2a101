package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// metricsRules is the rule set of TestAlertMetricsExported: a vip segment
// with a coverage target, and an action with outcomes delivered to a
// file. %s is its schedule; %s more actions.
const metricsRules = `ruleset: shop
schedule: {cron: "%s", timezone: UTC}
facts:
  spend_12m: number
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= 1000
        coverage: {every: 28d, by: [vip_call], counts: [reached]}
      - name: small
        fallback: true
actions:
  - name: vip_call
    when: entered("tier", "vip")
    deliver_to: export
    outcomes: [reached, no_answer]
%s`

// yearly is a schedule whose slot does not come during a test.
const yearly = "0 0 1 1 *"

// stateGauges are the gauges of a rule set's state after an applied run:
// exported once it has succeeded.
var stateGauges = map[string]bool{"tierflow_segment_coverage_ratio": true, "tierflow_segment_coverage_customers": true, "tierflow_segment_customers": true}

// TestAlertMetricsExported runs the real serve and scrapes its /metrics
// before any run, after a failing run, after a success and after a
// restart: every metric docs/alerts.yaml reads is there, with the labels
// and label values the alerts ask for, and so is every input series of
// the promtool tests; the counters start at 0, and the last success (0
// before the first) and the segment gauges come back from the database
// on restart.
func TestAlertMetricsExported(t *testing.T) {
	t.Parallel()
	bin := tierflowBinary(t)
	rules := loadAlertRules(t)
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules", "shop.yaml")
	factsPath := filepath.Join(dir, "facts.csv")
	const facts = "customer_id,spend_12m\n1,1500\n2,20\n"
	writeFiles(t, dir, map[string]string{
		"rules/shop.yaml": fmt.Sprintf(metricsRules, yearly, ""),
		"facts.csv":       facts,
		"tierflow.yaml": "database: {path: state.db}\nrulesets:\n  - rules: rules/shop.yaml\n    source: {file: facts.csv}\n" +
			"destinations:\n  export: {type: file, path: actions.jsonl}\nserve:\n  outcomes: {token_env: TIERFLOW_OUTCOMES_TOKEN}\n",
	})
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)

	s := startMetricsServe(t, bin, config)
	m := s.scrape(t)
	checkAlertMetrics(t, "before any run", rules, m.series, stateGauges)
	checkAlertTestSeries(t, "before any run", m, stateGauges)
	for _, st := range observedStatuses {
		s.want(t, m, fmt.Sprintf(`tierflow_runs_total{ruleset="shop",status="%s"}`, st), 0)
	}
	for _, want := range []string{`tierflow_last_success_timestamp_seconds{ruleset="shop"}`, `tierflow_slots_missed_total{ruleset="shop"}`,
		`tierflow_moves_total{ruleset="shop",segmentation="tier"}`, `tierflow_actions_queued_total{action="vip_call",ruleset="shop"}`,
		`tierflow_outcomes_total{action="vip_call",outcome="reached",ruleset="shop",status="done"}`,
		`tierflow_rule_reload_failures_total{file="` + rulesPath + `"}`, `tierflow_actions_dead_total{destination="export"}`} {
		s.want(t, m, want, 0)
	}
	if ss, ok := m.series["tierflow_segment_customers"]; ok {
		t.Errorf("segment sizes before any run: %v", ss)
	}

	// A reload to a slot every second, adding an action, while the facts
	// file is gone: runs fail.
	if err := os.Remove(factsPath); err != nil {
		t.Fatal(err)
	}
	s.reload(t, rulesPath, fmt.Sprintf(metricsRules, "* * * * * *", "  - name: small_note\n    when: entered(\"tier\", \"small\")\n"))
	m = s.waitFor(t, "a failed run", func(m metricsScrape) bool { return m.value(`tierflow_runs_total{ruleset="shop",status="failed"}`) >= 1 })
	checkAlertMetrics(t, "after a failed run", rules, m.series, stateGauges)
	checkAlertTestSeries(t, "after a failed run", m, stateGauges)
	s.want(t, m, `tierflow_last_success_timestamp_seconds{ruleset="shop"}`, 0)
	s.want(t, m, `tierflow_actions_queued_total{action="small_note",ruleset="shop"}`, 0)
	s.want(t, m, `tierflow_runs_total{ruleset="shop",status="succeeded"}`, 0)

	// The facts are back: a run succeeds.
	writeFiles(t, dir, map[string]string{"facts.csv": facts})
	m = s.waitFor(t, "a succeeded run", func(m metricsScrape) bool {
		return m.value(`tierflow_runs_total{ruleset="shop",status="succeeded"}`) >= 1
	})
	checkAlertMetrics(t, "after a success", rules, m.series, nil)
	checkAlertTestSeries(t, "after a success", m, nil)
	if v := m.value(`tierflow_last_success_timestamp_seconds{ruleset="shop"}`); time.Since(time.Unix(int64(v), 0)) > time.Minute {
		t.Errorf("last success %v after a success now", v)
	}
	s.want(t, m, `tierflow_segment_customers{ruleset="shop",segment="vip",segmentation="tier"}`, 1)
	s.want(t, m, `tierflow_segment_customers{ruleset="shop",segment="small",segmentation="tier"}`, 1)
	s.stop(t)

	// A restart: no run comes, and the database says when the last
	// success was and what it left.
	writeFiles(t, dir, map[string]string{"rules/shop.yaml": fmt.Sprintf(metricsRules, yearly, "")})
	s = startMetricsServe(t, bin, config)
	m = s.scrape(t)
	checkAlertMetrics(t, "after a restart", rules, m.series, nil)
	checkAlertTestSeries(t, "after a restart", m, nil)
	s.want(t, m, `tierflow_last_success_timestamp_seconds{ruleset="shop"}`, lastSucceededAt(t, config))
	s.want(t, m, `tierflow_segment_customers{ruleset="shop",segment="vip",segmentation="tier"}`, 1)
	s.want(t, m, `tierflow_segment_coverage_ratio{ruleset="shop",segment="vip",segmentation="tier"}`, 0)
	s.want(t, m, `tierflow_runs_total{ruleset="shop",status="succeeded"}`, 0)
	s.want(t, m, `tierflow_runs_total{ruleset="shop",status="failed"}`, 0)
	s.stop(t)
}

// lastSucceededAt is when the latest succeeded run of the config's rule
// set finished, by tierflow runs, as Unix seconds.
func lastSucceededAt(t *testing.T, config string) float64 {
	t.Helper()
	r := runCLI(t, nil, "runs", "--config", config, "--format", "json", "--limit", "1000").want(t, exitOK)
	var out struct {
		Runs []struct {
			Status   string    `json:"status"`
			Finished time.Time `json:"finished_at"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	for _, run := range out.Runs { // newest first
		if run.Status == "succeeded" {
			return float64(run.Finished.UnixNano()) / 1e9
		}
	}
	t.Fatalf("no succeeded run in\n%s", r.stdout)
	return 0
}

// metricsServe is a tierflow serve process of TestAlertMetricsExported.
type metricsServe struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	base   string
	exited chan error
}

func startMetricsServe(t *testing.T, bin, config string) *metricsServe {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(bin, "serve", "--config", config, "--listen", addr)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), testSecondsEnv + "=1", "TIERFLOW_OUTCOMES_TOKEN=metrics-test-token-0123456789"}
	s := &metricsServe{cmd: cmd, out: &lockedBuffer{ch: make(chan []byte, 1024)}, base: "http://" + addr, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, "/readyz", s.out, func() bool { code, _ := get(s.base + "/readyz"); return code == 200 })
	return s
}

func (s *metricsServe) scrape(t *testing.T) metricsScrape {
	t.Helper()
	code, body := get(s.base + "/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d %s", code, body)
	}
	m, err := parseMetrics(body)
	if err != nil {
		t.Fatalf("/metrics: %v\n%s", err, body)
	}
	return m
}

// waitFor scrapes until ok says yes, and returns that scrape.
func (s *metricsServe) waitFor(t *testing.T, what string, ok func(metricsScrape) bool) metricsScrape {
	t.Helper()
	var m metricsScrape
	waitFor(t, what, s.out, func() bool { m = s.scrape(t); return ok(m) })
	return m
}

// reload writes the rule file and has serve reload it.
func (s *metricsServe) reload(t *testing.T, path, rules string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rule file to be reloaded", s.out, func() bool { return strings.Contains(s.out.String(), `"msg":"rule file reloaded"`) })
}

// want checks the value of one series, named as the text format does.
func (s *metricsServe) want(t *testing.T, m metricsScrape, series string, want float64) {
	t.Helper()
	if !m.has(series) {
		t.Errorf("/metrics lacks %s", series)
	} else if got := m.value(series); got != want {
		t.Errorf("%s = %v, want %v", series, got, want)
	}
}

func (s *metricsServe) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		if err != nil {
			t.Fatalf("serve exited with %v:\n%s", err, s.out.String())
		}
	case <-time.After(35 * time.Second):
		t.Fatalf("serve did not stop:\n%s", s.out.String())
	}
}

// checkAlertTestSeries checks the input series of the promtool tests
// against a scrape: each names a metric serve exports (but for those in
// later) with the same label names, besides job and instance.
func checkAlertTestSeries(t *testing.T, phase string, m metricsScrape, later map[string]bool) {
	t.Helper()
	for _, in := range alertTestSeries(t) {
		name := in["__name__"]
		series, ok := m.series[name]
		if !ok {
			if !later[name] {
				t.Errorf("%s: %s tests alerts on %s, which serve does not export", phase, alertsTestFile, name)
			}
			continue
		}
		want := labelNames(in, "__name__", "job", "instance")
		if !slices.ContainsFunc(series, func(s map[string]string) bool { return slices.Equal(labelNames(s), want) }) {
			t.Errorf("%s: %s has %s with labels %v; serve exports it with %v", phase, alertsTestFile, name, want, labelNames(series[0]))
		}
	}
}

// labelNames are the sorted names of labels, less those left out.
func labelNames(labels map[string]string, leaveOut ...string) []string {
	var out []string
	for l := range labels {
		if !slices.Contains(leaveOut, l) {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// metricsScrape is a scrape in the text format: the labels of each
// series by metric name, and the value of each series as the format
// writes it (labels sorted by name).
type metricsScrape struct {
	series map[string][]map[string]string
	values map[string]float64
}

func (m metricsScrape) has(series string) bool {
	_, ok := m.values[series]
	return ok
}

// value is the series' value, -1 when it is absent.
func (m metricsScrape) value(series string) float64 {
	if v, ok := m.values[series]; ok {
		return v
	}
	return -1
}

// parseMetrics reads the series of the text exposition format.
func parseMetrics(text string) (metricsScrape, error) {
	out := metricsScrape{series: map[string][]map[string]string{}, values: map[string]float64{}}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return out, fmt.Errorf("no value in %q", line)
		}
		labels, err := parseSeries(line[:i])
		if err != nil {
			return out, err
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return out, fmt.Errorf("%q: %v", line, err)
		}
		name := labels["__name__"]
		delete(labels, "__name__")
		out.series[name] = append(out.series[name], labels)
		out.values[line[:i]] = v
	}
	return out, nil
}

// parseSeries reads name{label="value",...} into its labels, with the
// name under __name__.
func parseSeries(text string) (map[string]string, error) {
	name, rest, _ := strings.Cut(text, "{")
	labels := map[string]string{"__name__": strings.TrimSpace(name)}
	rest = strings.TrimSuffix(strings.TrimSpace(rest), "}")
	for rest != "" {
		l, after, ok := strings.Cut(rest, `="`)
		if !ok {
			return nil, fmt.Errorf("bad labels in %q", text)
		}
		var v strings.Builder
		j := 0
		for ; j < len(after) && after[j] != '"'; j++ {
			if after[j] == '\\' && j+1 < len(after) {
				j++
				if after[j] == 'n' {
					v.WriteByte('\n')
					continue
				}
			}
			v.WriteByte(after[j])
		}
		if j == len(after) {
			return nil, fmt.Errorf("unterminated label value in %q", text)
		}
		labels[strings.TrimSpace(strings.TrimPrefix(l, ","))] = v.String()
		rest = strings.TrimPrefix(after[j+1:], ",")
	}
	return labels, nil
}
