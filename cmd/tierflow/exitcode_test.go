package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// plan exits 0 on success whatever it finds, so that `set -e` scripts
// work; --detailed-exitcode gives terraform's 0 no changes, 2 changes
// (issue 18, item 3). Both on the database and for a preview of a facts
// file.
func TestPlanDetailedExitcode(t *testing.T) {
	t.Parallel()
	dir, _ := fileProject(t, "", "1,300,0,1,2024-06-01,2024-06-01,online\n")
	config := filepath.Join(dir, "tierflow.yaml")
	plan := func(extra ...string) result {
		return runCLI(t, nil, append([]string{"plan", "--quiet", "--as-of", "2024-07-01", "--config", config}, extra...)...)
	}
	preview := func(extra ...string) result {
		return runCLI(t, nil, append([]string{"plan", "--quiet", "--as-of", "2024-07-01", "--facts", filepath.Join(dir, "facts.csv"),
			filepath.Join(dir, "rules", "retail.yaml")}, extra...)...)
	}
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	plan().want(t, exitOK)                              // a first run would assign the customer
	plan("--detailed-exitcode").want(t, exitChanges)    // ... which is a change
	preview().want(t, exitOK)                           // the same on the facts file
	preview("--detailed-exitcode").want(t, exitChanges) //
	runCLI(t, nil, "apply", "--quiet", "--as-of", "2024-07-01", "--config", config).want(t, exitOK)
	plan("--detailed-exitcode").want(t, exitOK) // nothing left to change
	plan("--detailed-exitcode", "--ruleset", "nosuch").want(t, exitFailure)
}

// A mistyped command gets the closest one suggested (issue 18, item 4).
func TestUnknownCommandSuggests(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "aply", "--as-of", "2024-07-01").want(t, exitFailure)
	if !strings.Contains(r.stderr, `unknown command "aply" (did you mean "apply"?)`) {
		t.Fatalf("a mistyped command: %s", r)
	}
	r = runCLI(t, nil, "zzzzzz").want(t, exitFailure)
	if !strings.Contains(r.stderr, "expected one of: actions, apply,") {
		t.Fatalf("an unknown command: %s", r)
	}
}
