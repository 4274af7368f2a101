package main

import (
	"path/filepath"
	"strings"
	"testing"
)

const staleRules = `ruleset: stale
facts:
  last_order_at: time
segmentations:
  - name: lifecycle
    segments:
      - name: new
        when: days_since(last_order_at) <= %d
      - name: old
        fallback: true
`

// staleProject writes a project whose facts are an export a year and a
// half older than the tests' today (2024-07-01), with the proposed rules
// in rules/ and a baseline (new_days 90 instead of 120) in base/.
func staleProject(t *testing.T, source string) (config, base string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"facts.csv":        "customer_id,last_order_at\n1,2023-03-15\n2,2022-12-01\n3,2022-06-01\n",
		"rules/stale.yaml": strings.Replace(staleRules, "%d", "120", 1),
		"base/stale.yaml":  strings.Replace(staleRules, "%d", "90", 1),
		"tierflow.yaml":    "database: {path: state.db}\nrulesets:\n  - rules: rules/stale.yaml\n    source: " + source + "\n",
	}
	writeFiles(t, dir, files)
	config = filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	return config, filepath.Join(dir, "base")
}

// A preview of an old export "as of today" warns that the facts look
// stale and names the as-of to pass; with it, the rule change shows.
func TestStaleExportWarns(t *testing.T) {
	t.Parallel()
	config, base := staleProject(t, "{file: facts.csv}")
	facts := filepath.Join(filepath.Dir(config), "facts.csv")
	rules := filepath.Join(filepath.Dir(config), "rules")
	r := runCLI(t, nil, "plan", "--quiet", "--facts", facts, "--baseline", base, rules).want(t, exitOK)
	want := "WARNING: the newest date in the facts (last_order_at 2023-03-15) is 474 days before the as-of time 2024-07-01: the facts look stale; if they are an export, evaluate them as of its date with --as-of 2023-03-16"
	if !strings.Contains(r.stdout, want) {
		t.Fatalf("preview of a stale export lacks the warning %q:\n%s", want, r.stdout)
	}
	r = runCLI(t, nil, "plan", "--quiet", "--facts", facts, "--baseline", base, "--as-of", "2023-03-16", rules).want(t, exitOK)
	if strings.Contains(r.stdout, "WARNING") || !strings.Contains(r.stdout, "1 (33.33%) treated differently") {
		t.Fatalf("preview as of the export's date:\n%s", r.stdout)
	}
}

// A source that says its own date (fresh_fact) makes a --baseline preview
// without --as-of evaluate as of the day after it, and say so; --as-of
// still wins.
func TestBaselineDefaultsToTheFactsDate(t *testing.T) {
	t.Parallel()
	config, base := staleProject(t, "{file: facts.csv, fresh_within: 2d, fresh_fact: last_order_at}")
	r := runCLI(t, nil, "plan", "--quiet", "--config", config, "--baseline", base).want(t, exitOK)
	if !strings.Contains(r.stderr, "previewing as of 2023-03-16, the day after the newest last_order_at in the facts (2023-03-15) (pass --as-of to choose)") ||
		!strings.Contains(r.stdout, "1 (33.33%) treated differently") || strings.Contains(r.stdout, "WARNING") {
		t.Fatalf("preview without --as-of:\n%s\n%s", r.stdout, r.stderr)
	}
	r = runCLI(t, nil, "plan", "--quiet", "--config", config, "--baseline", base, "--as-of", "2024-07-01").want(t, exitOK)
	if strings.Contains(r.stderr, "previewing as of") || !strings.Contains(r.stdout, "WARNING: the newest date") ||
		!strings.Contains(r.stdout, "sources.primary.fresh_within") {
		t.Fatalf("preview with --as-of:\n%s\n%s", r.stdout, r.stderr)
	}
}
