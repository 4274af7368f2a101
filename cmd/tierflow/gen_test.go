package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/pgtest"
)

// runCommand runs one command's function in-process like runCLI, for
// commands that may not be in commands() yet.
func runCommand(t *testing.T, run func(context.Context, *app, []string) int, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(&stdout, &stderr)
	a.getenv = func(k string) string { return env[k] }
	a.now = func() time.Time { return time.Date(2024, 7, 1, 15, 4, 5, 0, time.UTC) }
	code := run(context.Background(), a, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestGenWritesFiles(t *testing.T) {
	t.Parallel()
	r := runCommand(t, runGen, nil, "--customers", "1000", "--seed", "42", "--as-of", "2024-07-01").want(t, exitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1001 || lines[0] != "customer_id,spend_12m,spend_prev_12m,orders_12m,first_order_at,last_order_at,channel,region" {
		t.Fatalf("%d lines, header %q", len(lines), lines[0])
	}
	if !strings.Contains(r.stderr, "1,000 retail customers as of 2024-07-01 (seed 42) written to stdout") {
		t.Errorf("stderr: %s", r.stderr)
	}
	if again := runCommand(t, runGen, nil, "--customers", "1000", "--seed", "42", "--as-of", "2024-07-01"); again.stdout != r.stdout {
		t.Error("the same flags wrote different facts")
	}
	// --as-of defaults to today; --months moves the snapshot.
	r = runCommand(t, runGen, nil, "--customers", "1000", "--seed", "42", "--months", "1").want(t, exitOK)
	if !strings.Contains(r.stderr, "customers as of 2024-08-01") || strings.Count(r.stdout, "\n") <= 1001 {
		t.Errorf("--months 1 from today (2024-07-01): %d lines, stderr %s", strings.Count(r.stdout, "\n"), r.stderr)
	}

	dir := t.TempDir()
	out := filepath.Join(dir, "accounts.jsonl")
	r = runCommand(t, runGen, nil, "--kind", "b2b", "--customers", "500", "--out", out).want(t, exitOK)
	if r.stdout != "" || !strings.Contains(r.stderr, "500 b2b customers as of 2024-07-01 (seed 1) written to "+out) {
		t.Errorf("stdout %q, stderr %s", r.stdout, r.stderr)
	}
	src, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(src)), "\n"); len(lines) != 500 || !strings.HasPrefix(lines[0], `{"customer_id":1,"customer_since":"`) {
		t.Errorf("%s: %d lines, first %s", out, len(lines), lines[0])
	}
}

// What gen writes is what plan --facts reads.
func TestGenFactsForPlan(t *testing.T) {
	t.Parallel()
	facts := filepath.Join(t.TempDir(), "facts.csv")
	runCommand(t, runGen, nil, "--customers", "2000", "--as-of", "2024-07-01", "--out", facts).want(t, exitOK)
	r := runCLI(t, nil, "plan", "--facts", facts, "--as-of", "2024-07-01", retailRules).want(t, exitOK)
	if !strings.Contains(r.stdout, "2,000 customers evaluated") {
		t.Errorf("plan --facts:\n%s", r.stdout)
	}
}

func TestGenUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--customers", "0"}, "--customers: 0 is not between 1 and"},
		{[]string{"--as-of", "July"}, "--as-of:"},
		{[]string{"--months", "-1"}, "--months: -1"},
		{[]string{"--kind", "wholesale"}, `--kind "wholesale": use retail, orders or b2b`},
		{[]string{"--format", "xml"}, `--format "xml": use csv or jsonl`},
		{[]string{"--out", "x.csv", "--postgres-table", "t"}, "choose one"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--postgres-table", "customer_facts"}, "no database: set TIERFLOW_DATABASE_URL"},
	} {
		r := runCommand(t, runGen, nil, tc.args...).want(t, exitFailure)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("gen %v: stderr lacks %q:\n%s", tc.args, tc.want, r.stderr)
		}
	}
	r := runCommand(t, runGen, nil, "--help").want(t, exitOK)
	if !strings.Contains(r.stdout, "Examples:") || r.stderr != "" {
		t.Errorf("--help: stdout %s\nstderr %s", r.stdout, r.stderr)
	}
}

// The demo: load a month, apply, load the next month, apply. The second
// apply moves customers and queues actions, within the default guard.
func TestGenPostgresDemo(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	env := map[string]string{"TIERFLOW_DATABASE_URL": url}
	rulesPath, err := filepath.Abs(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "tierflow.yaml")
	if err := os.WriteFile(config, fmt.Appendf(nil, "rulesets:\n  - rules: %s\n    source: customer_facts\n", rulesPath), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func(months string) {
		t.Helper()
		r := runCommand(t, runGen, env, "--customers", "3000", "--as-of", "2024-07-01", "--months", months, "--postgres-table", "customer_facts", "--config", config).want(t, exitOK)
		if !strings.Contains(r.stderr, "loaded into table customer_facts") || strings.Contains(r.stderr, url) {
			t.Errorf("gen --postgres-table: %s", r.stderr)
		}
	}
	load("0")
	runCLI(t, env, "migrate", "--config", config).want(t, exitOK)
	runCLI(t, env, "apply", "--as-of", "2024-07-01", "--quiet", "--config", config).want(t, exitOK)
	load("1")
	r := runCLI(t, env, "apply", "--as-of", "2024-08-01", "--json", "--config", config).want(t, exitOK)
	var reports []struct {
		Customers int `json:"customers"`
		Changed   int `json:"changed"`
		Actions   []struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"actions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil || len(reports) != 1 {
		t.Fatalf("apply --json: %v\n%s", err, r.stdout)
	}
	rep := reports[0]
	if rep.Customers <= 3000 || rep.Changed == 0 || rep.Changed*5 > rep.Customers {
		t.Errorf("a month later: %d of %d customers changed segment", rep.Changed, rep.Customers)
	}
	for _, a := range rep.Actions {
		if a.Count == 0 && a.Name != "vip_care_visit" { // VIP care needs a 90-day grace to run out
			t.Errorf("a month later: no %s queued", a.Name)
		}
	}
	r = runCLI(t, env, "actions", "list", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "onboarding_message") {
		t.Errorf("actions list:\n%s", r.stdout)
	}
}
