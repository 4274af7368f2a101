package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// qualityGuide is the data-quality guide, whose samples this file checks.
const qualityGuide = "../../docs/data-quality.md"

// guideProject builds the project docs/data-quality.md describes, with
// SQLite in place of its PostgreSQL databases: CRM attributes in a table
// of the state database, spend in a warehouse database, consent in a CSV
// file. The rule file is the guide's own. It applies once, as of
// 2024-06-27, then customer 9 leaves the CRM.
func guideProject(t *testing.T) string {
	t.Helper()
	var ruleFile string
	for _, b := range codeBlocks(t, qualityGuide, "yaml") {
		if strings.HasPrefix(b, "ruleset: shop") {
			ruleFile = b
		}
	}
	if ruleFile == "" {
		t.Fatal("docs/data-quality.md lost its rule file (a yaml block starting with ruleset: shop)")
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		"rules/shop.yaml":     ruleFile,
		"exports/consent.csv": "customer_id,marketing_consent\n001,true\n2,false\n4,true\n7,true\n",
		"tierflow.yaml": `database: {path: state.db}
databases:
  warehouse: {driver: sqlite, path: warehouse.db}
rulesets:
  - rules: rules/shop.yaml
    sources:
      - query: SELECT customer_id, crm_segment, updated_at FROM crm_customers
        min_rows: 5
        fresh_within: 2d
        fresh_fact: updated_at
      - name: spend
        database: warehouse
        query: SELECT customer_id, spend_12m FROM spend_12m
        facts: [spend_12m]
        on_duplicate: last
        key: {trim: true}
      - name: consent
        file: exports/consent.csv
        facts: [marketing_consent]
        key: {strip_zeros: true}
`,
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	execSQLite(t, filepath.Join(dir, "warehouse.db"),
		"CREATE TABLE spend_12m (customer_id text, spend_12m real)",
		`INSERT INTO spend_12m VALUES ('1', 52000), ('2', 800), (' 3', 12000), ('4', -40), ('5', 3000), ('5', 3100), ('7', 150), ('99', 500)`)
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	state := filepath.Join(dir, "state.db")
	execSQLite(t, state,
		"CREATE TABLE crm_customers (customer_id text PRIMARY KEY, crm_segment text NOT NULL, updated_at text NOT NULL)",
		`INSERT INTO crm_customers VALUES ('1', 'retail', '2024-06-26'), ('2', 'retail', '2024-06-26'), ('3', 'business', '2024-06-25'),
			('4', 'retail', '2024-06-26'), ('5', 'business', '2024-06-26'), ('6', 'wholesale', '2024-06-24'), ('7', 'retail', '2024-06-26'),
			('8', 'retail', '2024-06-26'), ('9', 'business', '2024-06-20')`)
	runCLI(t, nil, "apply", "--quiet", "--as-of", "2024-06-27", "--allow-failed-checks", "--config", config).want(t, exitOK)
	execSQLite(t, state, "DELETE FROM crm_customers WHERE customer_id = '9'")
	return config
}

func execSQLite(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// guideSample returns the text block of the guide that follows the line
// "$ " + command.
func guideSample(t *testing.T, command string) string {
	t.Helper()
	for _, b := range codeBlocks(t, qualityGuide, "text") {
		if first, rest, ok := strings.Cut(b, "\n"); ok && first == "$ "+command {
			return rest
		}
	}
	t.Fatalf("docs/data-quality.md has no text block starting with the line %q", "$ "+command)
	return ""
}

// TestDataQualityGuide: the guide's configs parse, and its samples are
// what the commands print on the project it describes.
func TestDataQualityGuide(t *testing.T) {
	t.Parallel()
	for _, b := range codeBlocks(t, qualityGuide, "yaml") {
		if strings.Contains(b, "rulesets:") {
			if _, err := parseConfig("tierflow.yaml", []byte(b)); err != nil {
				t.Errorf("a config of the guide does not parse:\n%v\n%s", err, b)
			}
		}
	}
	config := guideProject(t)
	dir := filepath.Dir(config)
	export := "customer_id,crm_segment,updated_at,spend_12m,marketing_consent\n1040,retail,2024-06-30,52000,true\n1041,retail,2024-06-30,300,\n1042,business,n/a,12000,false\n"
	if err := os.WriteFile(filepath.Join(dir, "exports", "customers.csv"), []byte(export), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sample := range []struct {
		command string
		args    []string
		code    int
	}{
		{"tierflow plan --facts exports/customers.csv --as-of 2024-07-01 rules/shop.yaml",
			[]string{"plan", "--quiet", "--facts", filepath.Join(dir, "exports", "customers.csv"), "--as-of", "2024-07-01", filepath.Join(dir, "rules", "shop.yaml")}, exitOK},
		{"tierflow check --data --as-of 2024-07-01", []string{"check", "--data", "--quiet", "--as-of", "2024-07-01", "--config", config}, exitFailure},
		{"tierflow apply --as-of 2024-07-01", []string{"apply", "--quiet", "--as-of", "2024-07-01", "--config", config}, exitFailure},
	} {
		r := runCLI(t, nil, sample.args...).want(t, sample.code)
		got := strings.ReplaceAll(r.stdout+r.stderr, dir+string(filepath.Separator), "")
		if !excerptOf(guideSample(t, sample.command), got) {
			t.Errorf("docs/data-quality.md: the output of %s differs; it is now\n%s", sample.command, got)
		}
	}
}

// excerptOf reports whether sample is output, or, when it has lines
// "...", whether its parts between them appear in output in order, the
// first at the start and the last at the end.
func excerptOf(sample, output string) bool {
	parts := strings.Split(sample, "...\n")
	if len(parts) == 1 {
		return sample == output
	}
	if !strings.HasPrefix(output, parts[0]) || !strings.HasSuffix(output, parts[len(parts)-1]) {
		return false
	}
	rest := output[len(parts[0]) : len(output)-len(parts[len(parts)-1])]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return true
}
