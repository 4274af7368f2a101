package main

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// alertsFile is the alerting rules docs/operations.md recommends, and
// alertsTestFile their promtool unit tests.
const (
	alertsFile     = "../../docs/alerts.yaml"
	alertsTestFile = "testdata/alerts_test.yaml"
)

// alertRule is one alerting rule of a Prometheus rules file.
type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// loadAlertRules reads the alerting rules of docs/alerts.yaml, in order.
func loadAlertRules(t *testing.T) []alertRule {
	t.Helper()
	var file struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	src, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(src, &file); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var out []alertRule
	for _, g := range file.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no rules", alertsFile)
	}
	return out
}

// promtool finds Prometheus's promtool (Debian's prometheus package). A
// test that needs it fails under CI when it is missing, and is skipped
// elsewhere.
func promtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/promtool"); err == nil {
		return "/usr/bin/promtool"
	}
	const msg = "promtool not found in PATH or /usr/bin: install Debian's prometheus package (apt-get install --no-install-recommends prometheus; scripts/test.sh does so as root)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestAlertRules: promtool accepts docs/alerts.yaml, and its unit tests
// (testdata/alerts_test.yaml) pass.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", alertsFile}, {"test", "rules", alertsTestFile}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestAlertRulesTested: every alert of docs/alerts.yaml fires in a test
// of testdata/alerts_test.yaml, and every one has a summary and a
// severity.
func TestAlertRulesTested(t *testing.T) {
	t.Parallel()
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	src, err := os.ReadFile(alertsTestFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(src, &tests); err != nil {
		t.Fatal(err)
	}
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, at := range tc.AlertRuleTest {
			if len(at.ExpAlerts) > 0 {
				fires[at.Alertname] = true
			}
		}
	}
	for _, r := range loadAlertRules(t) {
		if !fires[r.Alert] {
			t.Errorf("%s: no test in %s expects it to fire", r.Alert, alertsTestFile)
		}
		if r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
			t.Errorf("%s: want a summary annotation and a severity label", r.Alert)
		}
	}
}

// TestAlertDocs: the alerts block of docs/operations.md lists the rules
// of docs/alerts.yaml, in order, with the same expressions and for:.
func TestAlertDocs(t *testing.T) {
	t.Parallel()
	var doc []alertRule
	for _, b := range codeBlocks(t, "../../docs/operations.md", "yaml") {
		if strings.Contains(b, "- alert:") {
			if doc != nil {
				t.Fatal("docs/operations.md has more than one block of alerts; keep one, the short form of docs/alerts.yaml")
			}
			if err := yaml.Unmarshal([]byte(b), &doc); err != nil {
				t.Fatalf("docs/operations.md: the alerts block: %v", err)
			}
		}
	}
	if doc == nil {
		t.Fatal("docs/operations.md has no block of alerts")
	}
	file := loadAlertRules(t)
	short := func(rs []alertRule) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Alert+" | "+strings.Join(strings.Fields(r.Expr), " ")+" | for "+r.For)
		}
		return out
	}
	if got, want := short(doc), short(file); !slices.Equal(got, want) {
		t.Errorf("docs/operations.md lists the alerts\n  %s\nbut %s has\n  %s", strings.Join(got, "\n  "), alertsFile, strings.Join(want, "\n  "))
	}
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range file {
		if !strings.Contains(string(ops), "`"+r.Alert+"`") {
			t.Errorf("docs/operations.md does not say what to do about `%s`", r.Alert)
		}
	}
}

// metricRef is a metric an alert's expression reads, with the labels its
// matchers name (label to the values an = or a =~ of alternatives asks
// for; nil for other matchers).
type metricRef struct {
	name     string
	matchers map[string][]string
}

var (
	metricRefRe = regexp.MustCompile(`\b(tierflow_[a-z0-9_]+)(\{([^}]*)\})?`)
	matcherRe   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	groupingRe  = regexp.MustCompile(`\b(by|without|on|ignoring)\s*\(([^)]*)\)`)
	labelsRe    = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
	plainAltsRe = regexp.MustCompile(`^[a-z0-9_]+(\|[a-z0-9_]+)*$`)
)

// metricRefs lists the tierflow metrics expr reads.
func metricRefs(expr string) []metricRef {
	var out []metricRef
	for _, m := range metricRefRe.FindAllStringSubmatch(expr, -1) {
		ref := metricRef{name: m[1], matchers: map[string][]string{}}
		for _, mm := range matcherRe.FindAllStringSubmatch(m[3], -1) {
			switch {
			case mm[2] == "=":
				ref.matchers[mm[1]] = []string{mm[3]}
			case mm[2] == "=~" && plainAltsRe.MatchString(mm[3]):
				ref.matchers[mm[1]] = strings.Split(mm[3], "|")
			default:
				ref.matchers[mm[1]] = nil
			}
		}
		out = append(out, ref)
	}
	return out
}

// groupings lists the label lists of expr's by, without, on and ignoring
// clauses, by keyword.
func groupings(expr string) map[string][][]string {
	out := map[string][][]string{}
	for _, m := range groupingRe.FindAllStringSubmatch(expr, -1) {
		var labels []string
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
		out[m[1]] = append(out[m[1]], labels)
	}
	return out
}

// checkAlertMetrics checks the rules against a scrape of serve: every
// metric they read is exported (but for those in later, which need what
// has not happened yet) with the labels and label values their matchers
// name; every label they group by is one of those metrics', and every
// $labels.X of an annotation is one the alert has.
func checkAlertMetrics(t *testing.T, phase string, rules []alertRule, scrape map[string][]map[string]string, later map[string]bool) {
	t.Helper()
	for _, r := range rules {
		// The labels the alert's metrics have (Prometheus adds job and
		// instance), and whether the scrape has every one of them.
		has := map[string]bool{"job": true, "instance": true}
		complete := true
		for _, ref := range metricRefs(r.Expr) {
			series, ok := scrape[ref.name]
			if !ok {
				if !later[ref.name] {
					t.Errorf("%s: alert %s reads %s, which serve does not export", phase, r.Alert, ref.name)
				}
				complete = false
				continue
			}
			for _, s := range series {
				for l := range s {
					has[l] = true
				}
			}
			for l, values := range ref.matchers {
				if !slices.ContainsFunc(series, func(s map[string]string) bool { _, ok := s[l]; return ok }) {
					t.Errorf("%s: alert %s matches on label %s, which %s does not have", phase, r.Alert, l, ref.name)
				}
				for _, v := range values {
					if !slices.ContainsFunc(series, func(s map[string]string) bool { return s[l] == v }) {
						t.Errorf("%s: alert %s asks for %s{%s=%q}, which serve does not export", phase, r.Alert, ref.name, l, v)
					}
				}
			}
		}
		if !complete {
			continue
		}
		out := has
		g := groupings(r.Expr)
		for _, kw := range []string{"by", "without", "on", "ignoring"} {
			for _, labels := range g[kw] {
				for _, l := range labels {
					if !has[l] {
						t.Errorf("%s: alert %s groups %s %s, a label none of its metrics has", phase, r.Alert, kw, l)
					}
				}
			}
		}
		if bys := g["by"]; len(bys) > 0 {
			// The alert has the labels every aggregation keeps.
			out = map[string]bool{}
			for _, l := range bys[0] {
				if !slices.ContainsFunc(bys, func(ls []string) bool { return !slices.Contains(ls, l) }) {
					out[l] = true
				}
			}
		}
		for _, text := range r.Annotations {
			for _, m := range labelsRe.FindAllStringSubmatch(text, -1) {
				if !out[m[1]] {
					t.Errorf("%s: alert %s: an annotation reads $labels.%s, which the alert does not have", phase, r.Alert, m[1])
				}
			}
		}
	}
}

// alertTestSeries lists the input series of the promtool tests, each as
// its labels with the metric name under __name__.
func alertTestSeries(t *testing.T) []map[string]string {
	t.Helper()
	var tests struct {
		Tests []struct {
			InputSeries []struct {
				Series string `yaml:"series"`
			} `yaml:"input_series"`
		} `yaml:"tests"`
	}
	src, err := os.ReadFile(alertsTestFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(src, &tests); err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, tc := range tests.Tests {
		for _, in := range tc.InputSeries {
			s, err := parseSeries(in.Series)
			if err != nil {
				t.Fatalf("%s: %v", alertsTestFile, err)
			}
			out = append(out, s)
		}
	}
	return out
}
