package main

import (
	"os"
	"path/filepath"
	"testing"
)

// retailHeader is the header of a retail facts CSV.
const retailHeader = "customer_id,spend_12m,spend_prev_12m,orders_12m,first_order_at,last_order_at,channel\n"

// fileProject writes a project in a new directory: the retail example in
// rules/, facts.csv with the rows given after the header, and a
// tierflow.yaml with the embedded store, whose rule set entry ends with
// extra (more keys of it, indented by four spaces). It returns the
// directory and a function that (re)writes a file of it.
func fileProject(t *testing.T, extra, rows string) (dir string, write func(name, body string)) {
	t.Helper()
	dir = t.TempDir()
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	write = func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tierflow.yaml", "database:\n  path: tierflow.db\nrulesets:\n  - rules: rules/retail.yaml\n    source: {file: facts.csv}\n"+extra)
	write("rules/retail.yaml", string(src))
	write("facts.csv", retailHeader+rows)
	return dir, write
}
