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
