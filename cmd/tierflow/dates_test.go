package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A rule set on Shanghai's calendar with date facts passes check --strict
// and its own tests from the command line, and explain --facts reads a
// date fact and says a time of day in one is an error.
func TestDatesFromTheCommandLine(t *testing.T) {
	t.Parallel()
	rules := "../../engine/testdata/dates.yaml"
	runCLI(t, nil, "check", "--strict", rules).want(t, exitOK)
	runCLI(t, nil, "test", "--min-coverage", "100", rules).want(t, exitOK)

	dir := t.TempDir()
	facts := filepath.Join(dir, "c.yaml")
	write := func(s string) {
		if err := os.WriteFile(facts, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("key: c1\nfacts: {first_order_date: 2024-06-01, last_order_date: 2024-06-01}\n")
	r := runCLI(t, nil, "explain", "--facts", facts, "--as-of", "2024-07-01T02:00:00+08:00", rules)
	r.want(t, exitOK)
	if !strings.Contains(r.stdout, "active") {
		t.Errorf("30 calendar days in Shanghai is active:\n%s", r.stdout)
	}
	write("key: c1\nfacts: {first_order_date: 2024-06-01T12:00:00Z}\n")
	r = runCLI(t, nil, "explain", "--facts", facts, "--as-of", "2024-07-01T02:00:00+08:00", rules)
	if r.code == exitOK || !strings.Contains(r.stderr, `fact "first_order_date": 2024-06-01T12:00:00Z has a time of day (20:00:00 in Asia/Shanghai)`) {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// A date alone on --as-of, or in a facts file's as_of, is the start of
// that day in the rule set's time zone: in New York, --as-of 2024-07-01
// is 04:00 UTC, and July 1 is 30 calendar days after June 1. Read as UTC
// midnight it would be June 30 in New York, and the customer new.
func TestAsOfDateIsTheRuleSetsDay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rules := filepath.Join(dir, "ny.yaml")
	facts := filepath.Join(dir, "c.yaml")
	files := map[string]string{
		rules: `ruleset: ny
timezone: America/New_York
facts:
  first_order_date: date
segmentations:
  - name: lifecycle
    segments:
      - name: new
        when: days_since(first_order_date) < 30
      - name: active
        fallback: true
`,
		facts: "key: c1\nfacts: {first_order_date: 2024-06-01}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runCLI(t, nil, "explain", "--format", "json", "--facts", facts, "--as-of", "2024-07-01", rules)
	r.want(t, exitOK)
	// A date fact's value is its day, not the midnight that holds it.
	for _, want := range []string{`"as_of": "2024-07-01T04:00:00Z"`, `"segment": "active"`, `"value": "2024-06-01"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain --as-of 2024-07-01 in New York: no %s in\n%s", want, r.stdout)
		}
	}
	// The same day in the facts file's own as_of.
	if err := os.WriteFile(facts, []byte("key: c1\nas_of: 2024-07-01\nfacts: {first_order_date: 2024-06-01}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, nil, "explain", "--format", "json", "--facts", facts, rules)
	r.want(t, exitOK)
	if !strings.Contains(r.stdout, `"segment": "active"`) {
		t.Errorf("as_of: 2024-07-01 in New York is not July 1 there:\n%s", r.stdout)
	}
}
