package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What init writes passes check --strict and test --min-coverage 100,
// and the config loads, naming the rule file it wrote.
func TestInit(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "crm")
	r := runCommand(t, runInit, nil, dir).want(t, exitOK)
	for _, want := range []string{"tierflow.yaml", "rules/customers.yaml", "rules/customers_test.yaml",
		"cd " + dir, "tierflow check rules/", "tierflow test rules/", "tierflow gen --customers 20000 --out facts.csv", "tierflow apply"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("init output lacks %q:\n%s", want, r.stdout)
		}
	}
	rulesDir := filepath.Join(dir, "rules")
	r = runCLI(t, nil, "check", "--strict", rulesDir).want(t, exitOK)
	if !strings.Contains(r.stdout, "0 errors, 0 warnings") {
		t.Errorf("check --strict:\n%s%s", r.stdout, r.stderr)
	}
	r = runCLI(t, nil, "test", "--min-coverage", "100", rulesDir).want(t, exitOK)
	if !strings.Contains(r.stdout, "rule coverage 100%") {
		t.Errorf("test:\n%s", r.stdout)
	}
	cfg, err := loadConfig(filepath.Join(dir, "tierflow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RuleSets) != 1 {
		t.Fatalf("config has %d rule sets", len(cfg.RuleSets))
	}
	h, err := readRuleHead(cfg.rulesPath(cfg.RuleSets[0]))
	if err != nil || h.Ruleset != "customers" {
		t.Errorf("the config's rule file: %+v, %v", h, err)
	}
	if _, err := cfg.databaseURL(func(string) string { return "" }); err == nil {
		t.Error("the config names a database URL itself")
	}
}

// init writes nothing when any of its files exists, and says which.
func TestInitRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tierflow.yaml"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCommand(t, runInit, nil, dir).want(t, exitFailure)
	if !strings.Contains(r.stderr, "already has tierflow.yaml; nothing was written") {
		t.Errorf("stderr: %s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "rules")); !os.IsNotExist(err) {
		t.Errorf("init created rules/ although it refused: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "tierflow.yaml")); string(b) != "mine\n" {
		t.Errorf("tierflow.yaml was overwritten: %q", b)
	}

	// A second init over a complete project names every file.
	dir = t.TempDir()
	runCommand(t, runInit, nil, dir).want(t, exitOK)
	r = runCommand(t, runInit, nil, dir).want(t, exitFailure)
	if !strings.Contains(r.stderr, "tierflow.yaml, rules/customers.yaml, rules/customers_test.yaml") {
		t.Errorf("stderr: %s", r.stderr)
	}
	runCommand(t, runInit, nil, "a", "b").want(t, exitFailure)
	if r := runCommand(t, runInit, nil, "--help").want(t, exitOK); !strings.Contains(r.stdout, "Examples:") {
		t.Errorf("--help:\n%s", r.stdout)
	}
}

// With no directory, init starts the project in the current one.
func TestInitHere(t *testing.T) {
	t.Chdir(t.TempDir())
	r := runCommand(t, runInit, nil).want(t, exitOK)
	if strings.Contains(r.stdout, "cd ") {
		t.Errorf("init . says to cd:\n%s", r.stdout)
	}
	for _, s := range scaffolds {
		if _, err := os.Stat(s.path); err != nil {
			t.Error(err)
		}
	}
}

// A newcomer's path with no database server: the scaffolded config reads
// the CSV file tierflow gen writes, and keeps state in the embedded
// store; check --db, plan, apply and explain work on it, and a second
// apply changes nothing.
func TestInitWithGeneratedData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runCommand(t, runInit, nil, dir).want(t, exitOK)
	config := filepath.Join(dir, "tierflow.yaml")
	runCommand(t, runGen, nil, "--customers", "2000", "--as-of", "2024-07-01", "--out", filepath.Join(dir, "facts.csv")).want(t, exitOK)
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	r := runCLI(t, nil, "check", "--db", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "ok  customers") {
		t.Errorf("check --db:\n%s", r.stdout)
	}
	r = runCLI(t, nil, "plan", "--as-of", "2024-07-01", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "2,000 customers evaluated") {
		t.Errorf("plan:\n%s", r.stdout)
	}
	r = runCLI(t, nil, "apply", "--as-of", "2024-07-01", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "2,000 change segment") {
		t.Errorf("apply:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "tierflow.db")); err != nil {
		t.Errorf("the embedded store: %v", err)
	}
	runCLI(t, nil, "plan", "--as-of", "2024-07-01", "--config", config).want(t, exitOK)
	r = runCLI(t, nil, "explain", "--customer", "7", "--as-of", "2024-07-01", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "value_tier") {
		t.Errorf("explain:\n%s", r.stdout)
	}
}
