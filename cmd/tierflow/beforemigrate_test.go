package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Before tierflow migrate, every command that needs state says to run it
// and leaves no empty database behind (issue 18, item 5).
func TestCommandsBeforeMigrate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"tierflow.yaml":     "database:\n  path: tierflow.db\nrulesets:\n  - rules: rules/retail.yaml\n    source: {file: facts.csv}\n",
		"facts.csv":         "customer_id,spend_12m,spend_prev_12m,orders_12m,first_order_at,last_order_at,channel\n1,300,0,1,2024-06-01,2024-06-01,online\n",
		"rules/retail.yaml": string(src),
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	config := filepath.Join(dir, "tierflow.yaml")
	for _, args := range [][]string{
		{"plan", "--as-of", "2024-07-01"}, {"apply", "--as-of", "2024-07-01"}, {"runs"}, {"history", "--customer", "1"},
		{"actions", "list"}, {"coverage"}, {"effects"}, {"sizes"}, {"report", "--out", filepath.Join(dir, "r.html")},
		{"explain", "--customer", "1", "--as-of", "2024-07-01"},
	} {
		r := runCLI(t, nil, append(args, "--config", config)...)
		if r.code != exitFailure || !strings.Contains(r.stderr, "run `tierflow migrate` first") {
			t.Errorf("%s before migrate: %s; want exit 1 saying to run tierflow migrate", args[0], r)
		}
		if _, err := os.Stat(filepath.Join(dir, "tierflow.db")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s before migrate created tierflow.db (%v)", args[0], err)
		}
	}
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	runCLI(t, nil, "runs", "--config", config).want(t, exitOK)
}
