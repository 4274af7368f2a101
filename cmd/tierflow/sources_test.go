package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // a warehouse file for the tests

	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/internal/pgtest"
)

// sourceProject writes a project whose state is the embedded store and
// whose retail facts come from the given source: block, with a copy of
// the rules in baseline/ for previews.
func sourceProject(t *testing.T, dir, databases, source string) string {
	t.Helper()
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"rules", "baseline"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, sub, "retail.yaml"), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := "database: {path: state.db}\n" + databases + "rulesets:\n  - rules: rules/retail.yaml\n    source: " + source + "\n"
	path := filepath.Join(dir, "tierflow.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// everyCommand runs every command that reads facts against the project:
// check --db, plan, apply, a second plan (no changes), explain --customer
// and a --baseline preview of unchanged rules (no effect).
func everyCommand(t *testing.T, env map[string]string, config string, customers string) {
	t.Helper()
	runCLI(t, env, "migrate", "--config", config).want(t, exitOK)
	if r := runCLI(t, env, "check", "--db", "--config", config).want(t, exitOK); !strings.Contains(r.stdout, "ok  retail") {
		t.Errorf("check --db:\n%s", r.stdout)
	}
	if r := runCLI(t, env, "plan", "--quiet", "--config", config).want(t, exitOK); !strings.Contains(r.stdout, customers+" customers evaluated") {
		t.Errorf("plan:\n%s", r.stdout)
	}
	runCLI(t, env, "apply", "--quiet", "--config", config).want(t, exitOK)
	runCLI(t, env, "plan", "--quiet", "--config", config).want(t, exitOK)
	if r := runCLI(t, env, "explain", "--customer", "17", "--config", config).want(t, exitOK); !strings.Contains(r.stdout, "previous.value_tier") && !strings.Contains(r.stdout, "value_tier") {
		t.Errorf("explain --customer:\n%s", r.stdout)
	}
	base := filepath.Join(filepath.Dir(config), "baseline")
	runCLI(t, env, "plan", "--quiet", "--config", config, "--baseline", base).want(t, exitOK)
}

func TestSourceFileGlob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exports := filepath.Join(dir, "exports")
	if err := os.MkdirAll(exports, 0o755); err != nil {
		t.Fatal(err)
	}
	runCommand(t, runGen, nil, "--customers", "1200", "--out", filepath.Join(exports, "customers-1.csv")).want(t, exitOK)
	config := sourceProject(t, dir, "", "{file: exports/customers-*.csv}")
	everyCommand(t, nil, config, "1,200")
}

func TestSourceOtherSQLiteDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "warehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gen.Retail(gen.Config{Customers: 1500, Seed: 3, AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.LoadSQL(context.Background(), db, gen.DialectSQLite, "customer_facts", g); err != nil {
		t.Fatal(err)
	}
	db.Close()
	config := sourceProject(t, dir, "databases:\n  warehouse: {driver: sqlite, path: warehouse.db}\n", "{database: warehouse, table: customer_facts}")
	everyCommand(t, nil, config, "1,500")
}

// Facts in a PostgreSQL warehouse, state in the embedded store; the
// warehouse's URL, a secret, never shows, even when it is wrong.
func TestSourceOtherPostgresDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := pgtest.URL(t)
	genCfg := filepath.Join(dir, "gen.yaml")
	if err := os.WriteFile(genCfg, []byte("database: {url_env: WAREHOUSE_URL}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WAREHOUSE_URL": url}
	runCommand(t, runGen, env, "--customers", "1300", "--postgres-table", "customer_facts", "--config", genCfg).want(t, exitOK)
	config := sourceProject(t, dir, "databases:\n  warehouse: {driver: postgres, url_env: WAREHOUSE_URL}\n",
		"{database: warehouse, query: \"SELECT * FROM customer_facts\"}")
	everyCommand(t, env, config, "1,300")

	bad := strings.Replace(url, "postgres://", "postgres://nobody:Sw0rdfish42@", 1)
	if strings.Contains(url, "@") {
		bad = url[:strings.Index(url, "://")+3] + "nobody:Sw0rdfish42@" + url[strings.Index(url, "@")+1:]
	}
	r := runCLI(t, map[string]string{"WAREHOUSE_URL": bad}, "plan", "--quiet", "--config", config).want(t, exitFailure)
	if strings.Contains(r.stdout+r.stderr, "Sw0rdfish42") || !strings.Contains(r.stderr, "database warehouse") {
		t.Errorf("a bad warehouse URL:\n%s", r)
	}
	r = runCLI(t, nil, "plan", "--quiet", "--config", config).want(t, exitFailure)
	if !strings.Contains(r.stderr, "WAREHOUSE_URL") {
		t.Errorf("an unset warehouse variable:\n%s", r)
	}
}

// --ruleset opens only that rule set's source: a warehouse another rule
// set reads, and that cannot be reached, does not stop it.
func TestSourceOnlySelectedRuleSetsAreOpened(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runCommand(t, runGen, nil, "--customers", "1000", "--out", filepath.Join(dir, "facts.csv")).want(t, exitOK)
	config := sourceProject(t, dir, "databases:\n  warehouse: {driver: postgres, url_env: WAREHOUSE_URL}\n", "{file: facts.csv}")
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(string(src), "ruleset: retail\n", "ruleset: retail_wh\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "rules", "retail_wh.yaml"), []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("  - rules: rules/retail_wh.yaml\n    source: {database: warehouse, table: customer_facts}\n") //nolint:errcheck
	f.Close()
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	runCLI(t, nil, "plan", "--quiet", "--ruleset", "retail", "--config", config).want(t, exitOK)
	if r := runCLI(t, nil, "plan", "--quiet", "--config", config).want(t, exitFailure); !strings.Contains(r.stderr, "WAREHOUSE_URL") {
		t.Errorf("plan of every rule set:\n%s", r)
	}
}
