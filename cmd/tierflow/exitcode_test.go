package main

import (
	"os"
	"path/filepath"
	"testing"
)

// plan exits 0 on success whatever it finds, so that `set -e` scripts
// work; --detailed-exitcode gives terraform's 0 no changes, 2 changes
// (issue 18, item 3). Both on the database and for a preview of a facts
// file.
func TestPlanDetailedExitcode(t *testing.T) {
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
