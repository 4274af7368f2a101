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
	dir, _ := fileProject(t, "", "1,300,0,1,2024-06-01,2024-06-01,online\n")
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
