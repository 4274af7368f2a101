package main

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the state database's facts table

	"github.com/tierflow/tierflow/internal/pgtest"
)

// shopRules is a small rule set whose facts may come from two sources:
// spend from the primary one, a consent flag (nullable) from another.
const shopRules = `ruleset: shop
facts:
  spend_12m: number
  marketing_consent: bool?
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= 1000
      - name: small
        fallback: true
  - name: consent
    segments:
      - name: unknown
        when: is_null(marketing_consent)
      - name: opted_in
        when: marketing_consent == true
      - name: opted_out
        fallback: true
`

// shopProject writes the shop rule set, files (by name, relative to the
// project) and a config whose state is the embedded store and whose
// rule set reads sources (the YAML after "rulesets: - rules: ..."); it
// returns the config's path, migrated.
func shopProject(t *testing.T, files map[string]string, sources string) string {
	t.Helper()
	dir := t.TempDir()
	files["rules/shop.yaml"] = shopRules
	writeFiles(t, dir, files)
	config := filepath.Join(dir, "tierflow.yaml")
	cfg := "database: {path: state.db}\nrulesets:\n  - rules: rules/shop.yaml\n" + sources
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	return config
}

// segmentOf is the segment customer is in, in segmentation, after the
// applies so far: the "to" of their last recorded move.
func segmentOf(t *testing.T, config, customer, segmentation string) string {
	t.Helper()
	r := runCLI(t, nil, "history", "--config", config, "--customer", customer, "--format", "json").want(t, exitOK)
	var doc struct {
		Moves []struct {
			Segmentation string `json:"segmentation"`
			To           string `json:"to"`
		} `json:"moves"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("history JSON: %v\n%s", err, r.stdout)
	}
	to := ""
	for _, m := range doc.Moves {
		if m.Segmentation == segmentation {
			to = m.To
		}
	}
	return to
}

// A CSV source that returns keys twice refuses plan, apply and plan
// --facts (exit 1), naming the keys and their count, and writes nothing.
func TestDuplicateKeysRefused(t *testing.T) {
	t.Parallel()
	facts := "customer_id,spend_12m,marketing_consent\n1,1500,true\n2,20,\n5,300,false\n2,5000,\n5,10,false\n"
	config := shopProject(t, map[string]string{"facts.csv": facts}, "    source: {file: facts.csv}\n")
	dir := filepath.Dir(config)
	for _, args := range [][]string{
		{"plan", "--quiet", "--config", config},
		{"apply", "--quiet", "--config", config},
		{"plan", "--quiet", "--facts", filepath.Join(dir, "facts.csv"), filepath.Join(dir, "rules", "shop.yaml")},
	} {
		r := runCLI(t, nil, args...).want(t, exitFailure)
		for _, want := range []string{"2 duplicate rows", `"2", "5"`, "on_duplicate: first or last"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", strings.Join(args[:1], " "), want, r)
			}
		}
	}
	if r := runCLI(t, nil, "runs", "--config", config).want(t, exitOK); strings.Contains(r.stdout, "succeeded") {
		t.Errorf("an apply with duplicate keys succeeded:\n%s", r.stdout)
	}
	if got := segmentOf(t, config, "1", "tier"); got != "" {
		t.Errorf("customer 1 was assigned %q by a refused apply", got)
	}
}

// on_duplicate: last keeps the last row of a key, first the first.
func TestDuplicateKeysKept(t *testing.T) {
	t.Parallel()
	facts := "customer_id,spend_12m,marketing_consent\n1,1500,true\n2,20,\n2,5000,\n"
	for policy, want := range map[string]string{"last": "vip", "first": "small"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			config := shopProject(t, map[string]string{"facts.csv": facts}, "    source: {file: facts.csv, on_duplicate: "+policy+"}\n")
			r := runCLI(t, nil, "plan", "--quiet", "--config", config).want(t, exitOK)
			for _, s := range []string{"2 customers evaluated", "primary: 3 rows, 2 customers, 1 duplicate row (on_duplicate: " + policy + ")"} {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("plan lacks %q:\n%s", s, r.stdout)
				}
			}
			runCLI(t, nil, "apply", "--quiet", "--config", config).want(t, exitOK)
			if got := segmentOf(t, config, "2", "tier"); got != want {
				t.Errorf("customer 2 is in %q, want %q (the %s row)", got, want, policy)
			}
			r = runCLI(t, nil, "explain", "--config", config, "--customer", "2").want(t, exitOK)
			if !strings.Contains(r.stdout, "tier: "+want) {
				t.Errorf("explain shows another row than the apply used:\n%s", r.stdout)
			}
		})
	}
}

// Spend from a query on the state database, consent from a CSV file: the
// two are merged on the key, a customer missing from the CSV gets null,
// and a CSV row of no customer is counted, not evaluated.
func TestMergedSources(t *testing.T) {
	t.Parallel()
	config := shopProject(t, map[string]string{
		"consent.csv": "customer_id,marketing_consent\n1,true\n3,false\n9,true\n",
	}, `    sources:
      - {query: "SELECT customer_id, spend_12m FROM shop_facts"}
      - {name: consent, file: consent.csv, facts: [marketing_consent]}
`)
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(config), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE shop_facts (customer_id text PRIMARY KEY, spend_12m real NOT NULL)",
		"INSERT INTO shop_facts VALUES ('1', 1500), ('2', 20), ('3', 300)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	if r := runCLI(t, nil, "check", "--db", "--config", config).want(t, exitOK); !strings.Contains(r.stdout, "ok  shop source primary") ||
		!strings.Contains(r.stdout, "ok  shop source consent: the facts source provides the key and its fact marketing_consent") {
		t.Errorf("check --db:\n%s", r.stdout)
	}
	r := runCLI(t, nil, "plan", "--quiet", "--config", config).want(t, exitOK)
	for _, want := range []string{"3 customers evaluated", "primary: 3 rows, 3 customers", "consent: 3 rows, 3 customers, 1 row matching no customer of the primary source"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	runCLI(t, nil, "apply", "--quiet", "--config", config).want(t, exitOK)
	for customer, want := range map[string][2]string{"1": {"vip", "opted_in"}, "2": {"small", "unknown"}, "3": {"small", "opted_out"}} {
		if tier, consent := segmentOf(t, config, customer, "tier"), segmentOf(t, config, customer, "consent"); tier != want[0] || consent != want[1] {
			t.Errorf("customer %s: tier %q, consent %q; want %q, %q", customer, tier, consent, want[0], want[1])
		}
	}
	if got := segmentOf(t, config, "9", "tier"); got != "" {
		t.Errorf("customer 9, only in the consent file, was assigned %q", got)
	}
}

// The sources' problems against the rule file are reported at their place
// in the config, with a hint, before anything runs.
func TestSourcesCheckedAgainstRules(t *testing.T) {
	t.Parallel()
	config := shopProject(t, map[string]string{"facts.csv": "customer_id,spend_12m\n1,5\n", "consent.csv": "customer_id,spend_12m\n1,5\n"}, `    sources:
      - {file: facts.csv, facts: [marketing_consent]}
      - name: consent
        file: consent.csv
        facts: [spend_12m, marketing_consnt]
        fresh_within: 2d
        fresh_fact: spend_12m
`)
	r := runCLI(t, nil, "plan", "--quiet", "--config", config).want(t, exitFailure)
	for _, want := range []string{
		config + `:8:17: rulesets[0].sources[1].facts[0]: fact "spend_12m" comes from source "consent", which may not return every customer: declare it nullable (number?)`,
		config + `:8:28: rulesets[0].sources[1].facts[1]: source "consent" provides "marketing_consnt", which is not a fact of shop (did you mean "marketing_consent"?)`,
		"   8 |         facts: [spend_12m, marketing_consnt]\n     |                            ^",
		config + `:10:21: rulesets[0].sources[1].fresh_fact: source "consent": fresh_fact "spend_12m" must be a time fact of shop (declare a time fact`,
		"the sources of rule set shop in " + config + " do not fit its rule file; fix them first",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// The first source names its facts and leaves one out.
	config = shopProject(t, map[string]string{"facts.csv": "customer_id,spend_12m\n1,5\n"}, "    source: {file: facts.csv, facts: [spend_12m]}\n")
	r = runCLI(t, nil, "check", "--data", "--config", config).want(t, exitFailure)
	if want := config + `:4:39: rulesets[0].source.facts: no source provides "marketing_consent", which shop declares (add it to the facts of a source`; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
}

// dataProject is a project of one CSV source with min_rows: minRows.
func dataProject(t *testing.T, minRows string) string {
	t.Helper()
	facts := "customer_id,spend_12m,marketing_consent\n1,1500,true\n2,20,\n3,300,false\n"
	return shopProject(t, map[string]string{"facts.csv": facts}, "    source: {file: facts.csv, min_rows: "+minRows+"}\n")
}

// check --data prints the table in every format and exits 1 when a check
// fails, 0 when all pass.
func TestCheckData(t *testing.T) {
	t.Parallel()
	failing, passing := dataProject(t, "10"), dataProject(t, "3")

	r := runCLI(t, nil, "check", "--data", "--quiet", "--config", failing).want(t, exitFailure)
	for _, want := range []string{
		"Data quality of rule set shop as of 2024-07-01",
		"  primary           3           3           0           -  -",
		"  marketing_consent  primary           1           0           0",
		"  FAIL  sources.primary.min_rows: 3 rows, at least 10 required",
		"FAILED: 1 of 1 check failed; an apply is refused unless run with --allow-failed-checks.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, nil, "check", "--data", "--quiet", "--config", passing).want(t, exitOK)
	if !strings.Contains(r.stdout, "  PASS  sources.primary.min_rows: 3 rows, at least 3 required") || !strings.Contains(r.stdout, "OK: 1 check passed.") {
		t.Errorf("passing text:\n%s", r.stdout)
	}

	r = runCLI(t, nil, "check", "--data", "--quiet", "--format", "json", "--config", failing).want(t, exitFailure)
	var doc struct {
		FormatVersion int  `json:"format_version"`
		Failed        bool `json:"failed"`
		RuleSets      []struct {
			RuleSet string `json:"ruleset"`
			Quality struct {
				Sources []struct {
					Name string `json:"name"`
					Rows int64  `json:"rows"`
				} `json:"sources"`
				Checks []struct {
					Check  string `json:"check"`
					Passed bool   `json:"passed"`
				} `json:"checks"`
			} `json:"quality"`
		} `json:"rulesets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("JSON: %v\n%s", err, r.stdout)
	}
	if q := doc.RuleSets; doc.FormatVersion != 1 || !doc.Failed || len(q) != 1 || q[0].RuleSet != "shop" || len(q[0].Quality.Sources) != 1 ||
		q[0].Quality.Sources[0].Rows != 3 || len(q[0].Quality.Checks) != 1 || q[0].Quality.Checks[0].Check != "sources.primary.min_rows" || q[0].Quality.Checks[0].Passed {
		t.Errorf("JSON: %+v\n%s", doc, r.stdout)
	}

	r = runCLI(t, nil, "check", "--data", "--quiet", "--format", "markdown", "--config", failing).want(t, exitFailure)
	for _, want := range []string{"### tierflow check --data: `shop`", "**1 of 1 check failed**", "| `sources.primary.min_rows` | **FAIL** | 3 rows, at least 10 required |  |"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("markdown lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runCLI(t, nil, "check", "--data", "--quiet", "--format", "csv", "--config", failing).want(t, exitFailure)
	rows, err := csv.NewReader(bytes.NewReader([]byte(r.stdout))).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, r.stdout)
	}
	found := false
	for _, row := range rows {
		if row[1] == "check" && row[2] == "sources.primary.min_rows" {
			found = row[12] == "false" && row[13] == "3"
		}
	}
	if !found || rows[0][0] != "ruleset" {
		t.Errorf("CSV lacks the failed check row:\n%s", r.stdout)
	}

	// A source that cannot be read fails the check, and says why in the
	// output too; a bad format fails before anything runs.
	if err := os.WriteFile(filepath.Join(filepath.Dir(failing), "facts.csv"), []byte("customer_id,spend\n1,5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, nil, "check", "--data", "--quiet", "--format", "json", "--config", failing).want(t, exitFailure)
	if !strings.Contains(r.stdout, `"error": `) || !strings.Contains(r.stderr, "tierflow: check shop: ") {
		t.Errorf("an unreadable source:\n%s", r)
	}
	runCLI(t, nil, "check", "--data", "--format", "yaml", "--config", passing).want(t, exitFailure)
	runCLI(t, nil, "check", "--format", "markdown", retailRules).want(t, exitFailure)
}

// A failed check blocks an apply, writing nothing; --allow-failed-checks
// lets it through, and the report still shows the check.
func TestAllowFailedChecks(t *testing.T) {
	t.Parallel()
	config := dataProject(t, "10")
	r := runCLI(t, nil, "plan", "--quiet", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "guard would block an apply:\n  - data-quality check sources.primary.min_rows: 3 rows, at least 10 required") {
		t.Errorf("plan:\n%s", r.stdout)
	}
	r = runCLI(t, nil, "apply", "--quiet", "--config", config).want(t, exitFailure)
	if !strings.Contains(r.stderr, "--allow-failed-checks") {
		t.Errorf("a blocked apply does not say how to let it through:\n%s", r)
	}
	if got := segmentOf(t, config, "1", "tier"); got != "" {
		t.Fatalf("a blocked apply assigned customer 1 to %q", got)
	}
	r = runCLI(t, nil, "plan", "--quiet", "--allow-failed-checks", "--config", config).want(t, exitOK)
	if strings.Contains(r.stdout, "guard would block") || !strings.Contains(r.stdout, "data-quality checks failed (let through by --allow-failed-checks):") {
		t.Errorf("plan --allow-failed-checks:\n%s", r.stdout)
	}
	runCLI(t, nil, "apply", "--quiet", "--allow-failed-checks", "--config", config).want(t, exitOK)
	if got := segmentOf(t, config, "1", "tier"); got != "vip" {
		t.Errorf("after apply --allow-failed-checks, customer 1 is in %q, want vip", got)
	}
}

// A customer the state knows and the source no longer returns leaves its
// segments under on_missing: exit: a move to (none), "left the source",
// and history with an empty to-segment.
func TestCustomersWhoLeave(t *testing.T) {
	t.Parallel()
	config := shopProject(t, map[string]string{"facts.csv": "customer_id,spend_12m,marketing_consent\n1,1500,true\n2,20,\n"},
		"    source: {file: facts.csv}\n")
	rules := filepath.Join(filepath.Dir(config), "rules", "shop.yaml")
	if err := os.WriteFile(rules, []byte(strings.Replace(shopRules, "ruleset: shop\n", "ruleset: shop\non_missing: exit\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLI(t, nil, "apply", "--quiet", "--config", config).want(t, exitOK)
	if err := os.WriteFile(filepath.Join(filepath.Dir(config), "facts.csv"), []byte("customer_id,spend_12m,marketing_consent\n1,1500,true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "plan", "--quiet", "--as-of", "2024-07-02", "--config", config).want(t, exitOK)
	for _, want := range []string{"small -> (none)  1", "customer 2: tier small -> (none) (left the source)",
		"absent: 1 customer the state knows is missing from the facts; 1 of them leave their segments (on_missing: exit)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	runCLI(t, nil, "apply", "--quiet", "--as-of", "2024-07-02", "--allow-large-change", "--config", config).want(t, exitOK)
	r = runCLI(t, nil, "history", "--config", config, "--customer", "2").want(t, exitOK)
	if !strings.Contains(r.stdout, "shop.tier  small -> (none)  (left the source; run 2)") {
		t.Errorf("history:\n%s", r.stdout)
	}
	if got := segmentOf(t, config, "2", "tier"); got != "" {
		t.Errorf("customer 2 is still in %q", got)
	}
}

// A value breaking a fact's declared check fails the check in check
// --data and plan, with the customer as an example.
func TestFactChecks(t *testing.T) {
	t.Parallel()
	config := shopProject(t, map[string]string{"facts.csv": "customer_id,spend_12m,marketing_consent\n1,1500,true\n2,-20,\n"},
		"    source: {file: facts.csv}\n")
	rules := filepath.Join(filepath.Dir(config), "rules", "shop.yaml")
	if err := os.WriteFile(rules, []byte(strings.Replace(shopRules, "  spend_12m: number\n", "  spend_12m: {type: number, min: 0}\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "check", "--data", "--quiet", "--config", config).want(t, exitFailure)
	for _, want := range []string{"  FAIL  facts.spend_12m.values: ", "customer 2"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check --data lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, nil, "plan", "--quiet", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "guard would block an apply:\n  - data-quality check facts.spend_12m.values: ") || !strings.Contains(r.stdout, "      e.g. customer 2") {
		t.Errorf("plan:\n%s", r.stdout)
	}
}

// On PostgreSQL, a facts table on the state database is read joined to
// the state in one query: duplicates are refused there too, kept with
// on_duplicate, and a CSV source merges with it.
func TestQualityPostgres(t *testing.T) {
	t.Parallel()
	d := &dbEnv{url: pgtest.URL(t)}
	db, err := sql.Open("postgres", d.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d.db, d.env = db, map[string]string{"TIERFLOW_DATABASE_URL": d.url}
	d.exec(t, "CREATE TABLE shop_facts (customer_id text NOT NULL, spend_12m numeric NOT NULL)")
	// Which of customer 2's rows is last is the database's order: both
	// make it a vip.
	d.exec(t, "INSERT INTO shop_facts VALUES ('1', 1500), ('2', 1200), ('3', 300), ('2', 5000)")
	project := func(sources string) string {
		dir := t.TempDir()
		for name, content := range map[string]string{
			"rules/shop.yaml": shopRules,
			"consent.csv":     "customer_id,marketing_consent\n1,true\n3,false\n",
			"tierflow.yaml":   "database: {url_env: TIERFLOW_DATABASE_URL}\nrulesets:\n  - rules: rules/shop.yaml\n" + sources,
		} {
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return filepath.Join(dir, "tierflow.yaml")
	}
	refused := project("    source: {query: \"SELECT customer_id, spend_12m, NULL::boolean AS marketing_consent FROM shop_facts\"}\n")
	runCLI(t, d.env, "migrate", "--config", refused).want(t, exitOK)
	for _, cmd := range []string{"plan", "apply"} {
		r := runCLI(t, d.env, cmd, "--quiet", "--config", refused).want(t, exitFailure)
		if !strings.Contains(r.stderr, `1 duplicate row (a customer key more than once: "2")`) {
			t.Errorf("%s of a PostgreSQL source with a duplicate key:\n%s", cmd, r)
		}
	}
	merged := project(`    sources:
      - {query: "SELECT customer_id, spend_12m FROM shop_facts", on_duplicate: last}
      - {name: consent, file: consent.csv, facts: [marketing_consent]}
`)
	r := runCLI(t, d.env, "check", "--data", "--quiet", "--config", merged).want(t, exitOK)
	if !strings.Contains(r.stdout, "  primary           4           3           1           -  -") || !strings.Contains(r.stdout, "  consent           2           2           0           0  -") {
		t.Errorf("check --data:\n%s", r.stdout)
	}
	runCLI(t, d.env, "apply", "--quiet", "--config", merged).want(t, exitOK)
	for customer, want := range map[string][2]string{"1": {"vip", "opted_in"}, "2": {"vip", "unknown"}, "3": {"small", "opted_out"}} {
		r := runCLI(t, d.env, "explain", "--customer", customer, "--config", merged).want(t, exitOK)
		if !strings.Contains(r.stdout, "tier: "+want[0]) || !strings.Contains(r.stdout, "consent: "+want[1]) {
			t.Errorf("customer %s, want %v:\n%s", customer, want, r.stdout)
		}
	}
}
