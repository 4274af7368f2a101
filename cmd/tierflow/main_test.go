package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// result is what one in-process run of the command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runCLI runs tierflow in-process with args, an environment holding only
// env, and a fixed clock.
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(&stdout, &stderr)
	a.getenv = func(k string) string { return env[k] }
	a.now = func() time.Time { return time.Date(2024, 7, 1, 15, 4, 5, 0, time.UTC) }
	code := a.run(context.Background(), args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// want fails the test unless the run exited with code.
func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got %s", code, r)
	}
	return r
}

const retailRules = "../../examples/retail/retail.yaml"

const factsDDL = `CREATE TABLE customer_facts (
    customer_id    bigint PRIMARY KEY,
    spend_12m      numeric NOT NULL,
    spend_prev_12m numeric NOT NULL,
    orders_12m     integer NOT NULL,
    first_order_at date NOT NULL,
    last_order_at  timestamptz,
    channel        text NOT NULL
)`

// dbEnv is a fresh database holding n generated retail customers (not
// migrated), and a config file naming it through the environment.
type dbEnv struct {
	db     *sql.DB
	url    string
	config string
	env    map[string]string
}

func newDBEnv(t *testing.T, n int) *dbEnv {
	t.Helper()
	d := &dbEnv{url: pgtest.URL(t)}
	db, err := sql.Open("postgres", d.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d.db = db
	d.env = map[string]string{"TIERFLOW_DATABASE_URL": d.url}
	d.exec(t, factsDDL)
	d.exec(t, `INSERT INTO customer_facts
        SELECT g,
               (g * 7919 % 60000)::numeric,
               (g * 104729 % 50000)::numeric,
               g % 12,
               date '2024-07-01' - (g * 31 % 2000),
               CASE WHEN g % 20 = 0 THEN NULL ELSE timestamptz '2024-07-01' - (g * 17 % 500) * interval '1 day' END,
               (ARRAY['online', 'store', 'partner'])[1 + (g % 3)]
        FROM generate_series(1, $1::int) AS g`, n)
	d.config = d.writeConfig(t, "customer_facts")
	return d
}

// writeConfig writes a config file for the retail rule set with source
// as its facts source, and returns its path.
func (d *dbEnv) writeConfig(t *testing.T, source string) string {
	t.Helper()
	rules, err := filepath.Abs(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tierflow.yaml")
	cfg := fmt.Sprintf("rulesets:\n  - rules: %s\n    source: %q\n", rules, source)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func (d *dbEnv) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := d.db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (d *dbEnv) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// run runs a database command with the config file and the database URL
// in the environment.
func (d *dbEnv) run(t *testing.T, args ...string) result {
	t.Helper()
	return runCLI(t, d.env, append(args, "--config", d.config)...)
}

// digest covers every table in the database (tierflow's and the facts)
// and the sequences, row by row.
func (d *dbEnv) digest(t *testing.T) map[string]string {
	t.Helper()
	rows, err := d.db.Query(`SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)
		FROM information_schema.tables WHERE table_schema IN ('tierflow', 'public') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	queries := map[string]string{"(sequences)": `SELECT schemaname, sequencename, last_value FROM pg_sequences`}
	for _, table := range tables {
		queries[table] = "SELECT * FROM " + table
	}
	out := map[string]string{}
	for name, q := range queries {
		var sum string
		var n int
		err := d.db.QueryRow(`SELECT coalesce(md5(string_agg(r::text, E'\n' ORDER BY r::text)), ''), count(*) FROM (`+q+`) AS r`).Scan(&sum, &n)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = fmt.Sprintf("%d rows %s", n, sum)
	}
	return out
}

// unchanged fails the test if the database differs from before.
func (d *dbEnv) unchanged(t *testing.T, what string, before map[string]string) {
	t.Helper()
	after := d.digest(t)
	if len(after) != len(before) {
		t.Fatalf("%s: tables before %v, after %v", what, before, after)
	}
	for table, b := range before {
		if after[table] != b {
			t.Errorf("%s changed table %s: %s, was %s", what, table, after[table], b)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// writeFiles writes files (contents by path relative to dir) under dir,
// making their directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
