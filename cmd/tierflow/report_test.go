package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// TestReportFlags: report refuses formats, tables and periods it cannot
// write before it opens anything.
func TestReportFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "pdf"}, `--format "pdf": give html, json or csv`},
		{[]string{"--format", "csv"}, "--format csv writes one table: add --table with one of runs, sizes, moves, churn, actions, coverage, effects"},
		{[]string{"--table", "sizes"}, "--table sizes: a table is for --format csv"},
		{[]string{"--format", "csv", "--table", "size"}, `--table "size": the tables are runs, sizes, moves, churn, actions, coverage, effects; did you mean "sizes"?`},
		{[]string{"--since", "soon"}, `--since "soon": give a duration (90d, 26w) or a date (2024-04-01)`},
		{[]string{"--since", "2024-07-01", "--until", "2024-06-01"}, "--until 2024-06-01 is before --since 2024-07-01"},
		{[]string{"--period", "0d"}, `--period "0d": give a positive length`},
		{[]string{"a", "b"}, "give one rule set, not 2"},
	} {
		r := runCLI(t, nil, append([]string{"report", "--config", filepath.Join(t.TempDir(), "none.yaml")}, tt.args...)...).want(t, exitFailure)
		if !strings.Contains(r.stderr, "tierflow: report: "+tt.want) {
			t.Errorf("report %q:\n%s\nwant %q", tt.args, r.stderr, tt.want)
		}
	}
}

func TestParseReportPeriod(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 7, 1, 15, 0, 0, 0, time.UTC)
	rs := retailRuleSetForTest(t)
	for _, tt := range []struct {
		since, until string
		from, to     time.Time
	}{
		{"90d", "", now.Add(-90 * 24 * time.Hour), time.Time{}},
		{"30d", "2024-06-30", time.Date(2024, 5, 31, 23, 59, 59, 999999000, time.UTC), time.Date(2024, 6, 30, 23, 59, 59, 999999000, time.UTC)},
		{"2024-01-01", "2024-06-30T12:00:00Z", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 6, 30, 12, 0, 0, 0, time.UTC)},
	} {
		p, err := parseReportPeriod(tt.since, tt.until, "30d")
		if err != nil {
			t.Fatal(err)
		}
		o := p.options(rs, now)
		if !o.From.Equal(tt.from) || !o.Until.Equal(tt.to) || o.Period != 30*24*time.Hour || !o.Effects {
			t.Errorf("--since %s --until %s: %+v", tt.since, tt.until, o)
		}
	}
}

// TestReportFormats writes the project's report in each format: the
// HTML file, the JSON document (jobs.ClassReport) and a CSV table; json
// and csv refuse several rule sets.
func TestReportFormats(t *testing.T) {
	p := newReportProject(t)
	out := filepath.Join(t.TempDir(), "r.html")
	r := p.run(exitOK, "report", "retail", "--since", "2020-01-01", "--out", out)
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(page), "<!DOCTYPE html>") || !strings.Contains(r.stdout, "wrote the class report of retail to "+out+" (1.") {
		t.Fatalf("%s\n%.200s", r, page)
	}
	var rep jobs.ClassReport
	if err := json.Unmarshal([]byte(p.run(exitOK, "report", "--since", "2020-01-01", "--format", "json").stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.FormatVersion != jobs.ClassReportFormatVersion || rep.RuleSet != "retail" || len(rep.Runs) != 8 || rep.Churn == nil || rep.Effects == nil {
		t.Fatalf("json: format %d, rule set %q, %d runs, churn %v, effects %v", rep.FormatVersion, rep.RuleSet, len(rep.Runs), rep.Churn != nil, rep.Effects != nil)
	}
	csv := p.run(exitOK, "report", "--since", "2020-01-01", "--format", "csv", "--table", "runs").stdout
	if lines := strings.Split(strings.TrimSpace(csv), "\n"); len(lines) != 9 || !strings.HasPrefix(lines[0], "id,kind,as_of,status,") {
		t.Fatalf("csv runs:\n%s", csv)
	}

	// A second rule set in the config.
	src, err := os.ReadFile(filepath.Join(p.dir, "rules", "retail.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	second := strings.Replace(string(src), "ruleset: retail\n", "ruleset: retail_copy\n", 1)
	if err := os.WriteFile(filepath.Join(p.dir, "rules", "copy.yaml"), []byte(second), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), "rulesets:\n", "rulesets:\n  - rules: rules/copy.yaml\n    source: {file: facts.csv}\n", 1))
	if err := os.WriteFile(p.cfg, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	r = p.run(exitFailure, "report", "--format", "json")
	if !strings.Contains(r.stderr, "--format json writes one rule set's report, and the config has 2 (retail_copy, retail): name one") {
		t.Fatalf("%s", r)
	}
	r = p.run(exitOK, "report", "--since", "2020-01-01", "--out", out)
	if !strings.Contains(r.stdout, "wrote the class report of retail_copy, retail to ") {
		t.Fatalf("%s", r)
	}
}

// serve.report is read like serve.outcomes: a literal token, a token_env
// that is not a variable's name, both keys or neither are refused without
// quoting the value.
func TestReportAccessConfig(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, src, want string }{
		{"literal token", "serve:\n  report: {token: Zq9Wv7Kx_Jm4Yp0123}\n",
			"serve.report.token: a token never goes in the config"},
		{"token in token_env", "serve:\n  report: {token_env: Zq9Wv7Kx-Jm4Yp0123}\n",
			"serve.report.token_env: a token never goes in the config; this is not a variable's name"},
		{"both", "serve:\n  report:\n    token_env: TOKEN\n    token_file: /run/secrets/token\n",
			"serve.report.token_file: token_env and token_file are both set"},
		{"neither", "serve:\n  report: {}\n", "serve.report: serve.report needs token_env or token_file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := configErrors(t, tt.src).Error()
			if !strings.Contains(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if strings.Contains(got, "Zq9Wv7Kx") {
				t.Errorf("the token was quoted:\n%s", got)
			}
		})
	}
	cfg, err := parseConfig("tierflow.yaml", []byte("serve:\n  report: {token_file: secrets/report}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if rc := cfg.Serve.Report; rc.TokenFile != "secrets/report" || !rc.configured() {
		t.Fatalf("%+v", rc)
	}
	if _, err := cfg.tokens(cfg.Serve.Report, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "serve.report.token_file: ") {
		t.Fatalf("a missing token file: %v", err)
	}
	cfg.Serve.Report = tokenConfig{TokenEnv: "T", field: "serve.report"}
	if _, err := cfg.tokens(cfg.Serve.Report, func(string) string { return "x7Qz" }); err == nil || strings.Contains(err.Error(), "x7Qz") {
		t.Fatalf("a short token: %v", err)
	}
}

func retailRuleSetForTest(t *testing.T) *rules.RuleSet {
	t.Helper()
	loaded := rules.LoadFiles([]string{retailRules}, ruleOptions())
	if err := loaded.Err(); err != nil {
		t.Fatal(err)
	}
	return loaded.RuleSets[0]
}
