package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// With no --config and no tierflow.yaml, the commands that run rule sets
// name the missing file and where they looked, and open no database.
func TestNoConfigFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	want := "no tierflow.yaml in " + dir + ": run tierflow init, or pass --config FILE"
	for _, cmd := range [][]string{
		{"serve", "--listen", "127.0.0.1:0"},
		{"plan"},
		{"apply"},
		{"check", "--db"},
		{"explain", "--customer", "1"},
	} {
		r := runCLI(t, nil, cmd...)
		if r.code == exitOK || !strings.Contains(r.stderr, want) {
			t.Errorf("%s with no config: %s\nwant %q", strings.Join(cmd, " "), r, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, defaultDatabaseFile)); err == nil {
		t.Errorf("a command created %s with no config", defaultDatabaseFile)
	}
}

// A configured rule file over the size limit is refused from its size,
// before it is parsed and before any database is opened.
func TestConfiguredRuleFileTooLarge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	var b strings.Builder
	b.WriteString("ruleset: big\n")
	for b.Len() <= 2*rules.MaxFileBytes {
		b.WriteString("# a rule file padded past the limit with comments\n")
	}
	if err := os.WriteFile(big, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "tierflow.yaml")
	if err := os.WriteFile(config, []byte("rulesets:\n  - rules: big.yaml\n    source: customer_facts\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s: file is %d bytes; the limit is %d (split the rule set into several files)", big, b.Len(), rules.MaxFileBytes)
	for _, cmd := range []string{"plan", "apply", "serve"} {
		r := runCLI(t, nil, cmd, "--config", config)
		if r.code == exitOK || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: %s\nwant %q", cmd, r, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, defaultDatabaseFile)); err == nil {
		t.Errorf("the state store was opened before the rule file was refused")
	}
}
