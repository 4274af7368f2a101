package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// plan --as-of facts previews an old export as of the day after its
// newest date, says so, and shows what the rule change does then; the
// stale warning of a preview "as of today" is gone.
func TestAsOfFactsPreviewsAnExportAtItsDate(t *testing.T) {
	t.Parallel()
	config, base := staleProject(t, "{file: facts.csv}")
	dir := filepath.Dir(config)
	facts, rules := filepath.Join(dir, "facts.csv"), filepath.Join(dir, "rules")
	// Without it, the markdown comment CI posts warns before any table.
	r := runCLI(t, nil, "plan", "--quiet", "--facts", facts, "--baseline", base, "--format", "markdown", rules).want(t, exitOK)
	warn := strings.Index(r.stdout, "> **Warning:** the newest date in the facts (last_order_at 2023-03-15) is 474 days before the as-of time 2024-07-01")
	if warn < 0 || !strings.Contains(r.stdout, "as of 2024-07-01") || (strings.Contains(r.stdout, "|") && strings.Index(r.stdout, "|") < warn) {
		t.Fatalf("markdown preview of a stale export as of today lacks a warning at the top:\n%s", r.stdout)
	}
	r = runCLI(t, nil, "plan", "--quiet", "--facts", facts, "--baseline", base, "--as-of", "facts", rules).want(t, exitOK)
	if !strings.Contains(r.stderr, "tierflow: plan stale: previewing as of 2023-03-16, the day after the newest last_order_at in the facts (2023-03-15)") ||
		!strings.Contains(r.stdout, "1 (33.33%) treated differently") || strings.Contains(r.stdout, "WARNING") {
		t.Fatalf("preview with --as-of facts:\n%s\n%s", r.stdout, r.stderr)
	}
	r = runCLI(t, nil, "plan", "--quiet", "--facts", facts, "--baseline", base, "--as-of", "facts", "--format", "markdown", rules).want(t, exitOK)
	if !strings.Contains(r.stdout, "as of 2023-03-16") || strings.Contains(r.stdout, "Warning") {
		t.Fatalf("markdown preview with --as-of facts:\n%s", r.stdout)
	}
	// The same for a plan without a baseline, and on the configured source.
	r = runCLI(t, nil, "plan", "--quiet", "--facts", facts, "--as-of", "facts", rules).want(t, exitOK)
	if !strings.Contains(r.stdout, "2023-03-16") || strings.Contains(r.stdout, "WARNING") {
		t.Fatalf("plan --facts --as-of facts:\n%s\n%s", r.stdout, r.stderr)
	}
	r = runCLI(t, nil, "plan", "--quiet", "--config", config, "--as-of", "facts").want(t, exitOK)
	if !strings.Contains(r.stderr, "tierflow: plan stale: as of 2023-03-16, the day after the newest last_order_at") ||
		!strings.Contains(r.stdout, "2023-03-16") || strings.Contains(r.stdout, "WARNING") {
		t.Fatalf("plan --as-of facts on the configured source:\n%s\n%s", r.stdout, r.stderr)
	}
}

// Facts that are current, or hold no date, or only dates after today,
// are previewed as of today.
func TestAsOfFactsFallsBackToToday(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, csv, why string }{
		{"current", "customer_id,last_order_at\n1,2024-07-01\n2,2024-06-01\n", "today: the newest last_order_at in the facts is 2024-07-01"},
		{"no date", "customer_id,last_order_at\n1,\n", "today: the facts hold no date"},
		{"only future dates", "customer_id,last_order_at\n1,2025-01-01\n", "today: the facts hold no date"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"facts.csv":        tt.csv,
				"rules/stale.yaml": strings.Replace(strings.Replace(staleRules, "%d", "120", 1), "last_order_at: time", "last_order_at: time?", 1),
			})
			r := runCLI(t, nil, "plan", "--quiet", "--facts", filepath.Join(dir, "facts.csv"), "--as-of", "facts", filepath.Join(dir, "rules")).want(t, exitOK)
			if !strings.Contains(r.stderr, "previewing as of 2024-07-01, "+tt.why) {
				t.Errorf("stderr:\n%s", r.stderr)
			}
		})
	}
}

// --as-of facts is plan's: apply and check --data refuse it, and a
// value that is neither a date nor facts says what to write.
func TestAsOfFactsRefused(t *testing.T) {
	t.Parallel()
	config, _ := staleProject(t, "{file: facts.csv}")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"apply", "--quiet", "--as-of", "facts", "--config", config}, `apply: --as-of: "facts" is for plan, which previews`},
		{[]string{"check", "--data", "--as-of", "facts", "--config", config}, `check: --as-of: "facts" is not a date`},
		{[]string{"plan", "--as-of", "fact", "--config", config}, `plan: --as-of: "fact" is not a date (use 2024-06-30 or 2024-06-30T02:00:00Z), or facts for the day after the newest date in the facts`},
	} {
		r := runCLI(t, nil, tt.args...).want(t, exitFailure)
		if !strings.Contains(r.stderr, tt.want) {
			t.Errorf("tierflow %v: want %q, got\n%s", tt.args, tt.want, r)
		}
	}
}
