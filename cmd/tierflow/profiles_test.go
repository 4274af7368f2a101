package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
)

// An apply whose upkeep of the effect profiles fails still succeeds,
// and says that reports count from the queue until the next apply; the
// next one that can brings them up to date.
func TestApplyWarnsWhenProfilesLag(t *testing.T) {
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
	runCommand(t, runGen, env, "--customers", "500", "--as-of", "2024-07-01", "--months", "0", "--postgres-table", "customer_facts", "--config", config).want(t, exitOK)
	runCLI(t, env, "migrate", "--config", config).want(t, exitOK)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	marks := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM tierflow.effect_profile_marks`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	exec(`ALTER TABLE tierflow.effect_profile_marks RENAME TO effect_profile_marks_away`)
	r := runCLI(t, env, "apply", "--as-of", "2024-07-01", "--quiet", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stderr, "applied, but the summaries reports read are behind") || strings.Contains(r.stderr, url) {
		t.Errorf("an apply whose upkeep failed: stderr %q", r.stderr)
	}
	exec(`ALTER TABLE tierflow.effect_profile_marks_away RENAME TO effect_profile_marks`)
	if n := marks(); n != 0 {
		t.Fatalf("%d marks after a failed upkeep", n)
	}
	r = runCLI(t, env, "apply", "--as-of", "2024-07-02", "--quiet", "--config", config).want(t, exitOK)
	if strings.Contains(r.stderr, "behind") {
		t.Errorf("the next apply: stderr %q", r.stderr)
	}
	if n := marks(); n == 0 {
		t.Error("the next apply kept no effect profiles")
	}
}
