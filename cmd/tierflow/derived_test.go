package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigTransactions reads each form of transactions: and says what
// is wrong with the keys a transactions source does not take.
func TestConfigTransactions(t *testing.T) {
	t.Parallel()
	src := `databases:
  warehouse: {driver: sqlite, path: w.db}
rulesets:
  - rules: a.yaml
    source: customer_facts
    transactions: SELECT * FROM orders
  - rules: b.yaml
    source: customer_facts
    transactions: {table: sales.orders, database: warehouse}
  - rules: c.yaml
    source: customer_facts
    transactions: {file: exports/orders-*.csv.gz}
  - rules: d.yaml
    source: customer_facts
`
	cfg, err := parseConfig("tierflow.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := []sourceConfig{*cfg.RuleSets[0].Transactions, *cfg.RuleSets[1].Transactions, *cfg.RuleSets[2].Transactions}
	if got[0].Query != "SELECT * FROM orders" || got[1].Table != "sales.orders" || got[1].Database != "warehouse" || got[2].File != "exports/orders-*.csv.gz" || got[2].fileFormat() != "csv" {
		t.Errorf("transactions = %+v", got)
	}
	if cfg.RuleSets[3].Transactions != nil {
		t.Errorf("a rule set without transactions: has %+v", cfg.RuleSets[3].Transactions)
	}
	bad := `rulesets:
  - rules: a.yaml
    source: customer_facts
    transactions: {file: orders.csv, facts: [x], colour: red}
  - rules: b.yaml
    source: customer_facts
    transactions: {table: orders, file: orders.csv}
`
	_, err = parseConfig("tierflow.yaml", []byte(bad))
	want := `tierflow.yaml:4:38: rulesets[0].transactions.facts: facts is for facts sources (a transactions source takes query, table or file (with database or format); its columns are named under transactions: in the rule file)
   4 |     transactions: {file: orders.csv, facts: [x], colour: red}
     |                                      ^
tierflow.yaml:4:50: rulesets[0].transactions.colour: unknown key "colour" (expected one of: database, file, format, query, table)
   4 |     transactions: {file: orders.csv, facts: [x], colour: red}
     |                                                  ^
tierflow.yaml:7:41: rulesets[1].transactions: table and file are both set (a source is one of query, table or file)
   7 |     transactions: {table: orders, file: orders.csv}
     |                                         ^`
	if err == nil || strings.TrimSpace(err.Error()) != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

// derivedRules derives the facts of a small shop from its orders.
const derivedRules = `ruleset: shop
transactions: {time: ordered_at, amount: amount}
facts:
  channel: string
derived:
  spend_12m: sum(amount, last 365d)
  orders_12m: count(last 365d)
  last_order_at: last()
  spend_rank: pct_rank(spend_12m)
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= 100 && orders_12m >= 2 && spend_rank >= 0.5
      - name: other
        fallback: true
tests:
  - name: two big orders make a VIP
    as_of: 2024-07-01
    facts: {channel: online, spend_12m: 150, orders_12m: 2, spend_rank: 0.9}
    expect: {segments: {tier: vip}}
  - name: a small spender is not
    as_of: 2024-07-01
    facts: {channel: online, spend_12m: 50, orders_12m: 2, spend_rank: 0.9}
    expect: {segments: {tier: other}}
`

// derivedProject is a project whose facts are a CSV file and whose
// orders are another; rulesets is its config's rulesets: entry.
func derivedProject(t *testing.T, rulesets string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"rules/shop.yaml": derivedRules,
		"facts.csv":       "customer_id,channel\n1,online\n2,store\n3,online\n",
		"orders.csv":      "customer_id,ordered_at,amount\n1,2024-01-05T10:00:00Z,50\n1,2024-03-05T10:00:00Z,70.5\n2,2023-01-05,20\n9,2024-01-05,1000\n1,2025-01-05,999\n",
		"tierflow.yaml":   "database: {path: state.db}\nrulesets:\n  - rules: rules/shop.yaml\n" + rulesets,
	})
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	return config
}

// A rule set derives its facts from an orders file: check passes, plan
// reports how they were computed, explain shows their values, and apply
// writes the segments they give.
func TestDerivedFactsProject(t *testing.T) {
	t.Parallel()
	config := derivedProject(t, "    source: {file: facts.csv}\n    transactions: {file: orders.csv}\n")
	dir := filepath.Dir(config)
	runCLI(t, nil, "check", "--config", config, filepath.Join(dir, "rules")).want(t, exitOK)
	runCLI(t, nil, "test", filepath.Join(dir, "rules")).want(t, exitOK)
	r := runCLI(t, nil, "plan", "--config", config, "--as-of", "2024-06-30", "--format", "json").want(t, exitOK)
	var plans []struct {
		Customers int `json:"customers"`
		Derived   struct {
			Method     string `json:"method"`
			Customers  int    `json:"customers_with_transactions"`
			Population []struct {
				Fact   string `json:"fact"`
				Values int    `json:"values"`
			} `json:"population"`
		} `json:"derived"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &plans); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	d := plans[0].Derived
	if plans[0].Customers != 3 || d.Method != "stream" || d.Customers != 2 || len(d.Population) != 1 || d.Population[0].Fact != "spend_12m" || d.Population[0].Values != 3 {
		t.Errorf("plan = %+v", plans[0])
	}
	r = runCLI(t, nil, "explain", "--config", config, "--customer", "1", "--as-of", "2024-06-30").want(t, exitOK)
	for _, want := range []string{"spend_12m=120.5", "orders_12m=2", "spend_rank=1", "(none) -> vip"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain lacks %q:\n%s", want, r.stdout)
		}
	}
	runCLI(t, nil, "apply", "--config", config, "--as-of", "2024-06-30").want(t, exitOK)
	if got := segmentOf(t, config, "1", "tier"); got != "vip" {
		t.Errorf("customer 1 is in %q after the apply, want vip", got)
	}
	if got := segmentOf(t, config, "2", "tier"); got != "other" {
		t.Errorf("customer 2 is in %q after the apply, want other", got)
	}
}

// A rule set that derives facts from transactions needs them bound in
// the config, and plan says where.
func TestDerivedFactsNeedTransactions(t *testing.T) {
	t.Parallel()
	config := derivedProject(t, "    source: {file: facts.csv}\n")
	r := runCLI(t, nil, "plan", "--config", config, "--as-of", "2024-06-30").want(t, exitFailure)
	want := "tierflow.yaml:4:13: rulesets[0].source: rule set shop derives facts from transactions (derived: in the rule file), but no transactions source is configured: add transactions: {table: orders} (or a query or file) to its entry under rulesets: in the config file"
	if !strings.Contains(r.stderr, want) {
		t.Errorf("plan:\n%s\nwant %s", r, want)
	}
}

// plan --baseline previews a change of a derived fact's window: each side
// derives its own version, and only the customers it moves are shown.
func TestDerivedFactsBaseline(t *testing.T) {
	t.Parallel()
	config := derivedProject(t, "    source: {file: facts.csv}\n    transactions: {file: orders.csv}\n")
	dir := filepath.Dir(config)
	baseline := filepath.Join(dir, "baseline")
	writeFiles(t, baseline, map[string]string{"shop.yaml": derivedRules})
	writeFiles(t, dir, map[string]string{"rules/shop.yaml": strings.Replace(derivedRules, "sum(amount, last 365d)", "sum(amount, last 100d)", 1)})
	r := runCLI(t, nil, "plan", "--config", config, "--as-of", "2024-06-30", "--baseline", baseline, "--format", "json").want(t, exitOK)
	var diffs []struct {
		Customers int `json:"customers"`
		Differ    int `json:"differ"`
		Samples   []struct {
			Customer string `json:"customer"`
		} `json:"samples"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &diffs); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	// Customer 1's orders of January and March are in the last 365 days
	// (120.5, VIP) but not in the last 100 (0).
	if len(diffs) != 1 || diffs[0].Customers != 3 || diffs[0].Differ != 1 || len(diffs[0].Samples) != 1 || diffs[0].Samples[0].Customer != "1" {
		t.Errorf("plan --baseline: %s", r.stdout)
	}
}

// check --db checks the transactions source too: the columns the rule
// file's transactions: names, before any run.
func TestCheckDBChecksTransactions(t *testing.T) {
	t.Parallel()
	config := derivedProject(t, "    source: {file: facts.csv}\n    transactions: {file: orders.csv}\n")
	r := runCLI(t, nil, "check", "--db", "--config", config).want(t, exitOK)
	if want := "ok  shop transactions: the transactions source provides customer_id, ordered_at, amount"; !strings.Contains(r.stdout, want) {
		t.Errorf("check --db:\n%s\nwant %s", r, want)
	}
	writeFiles(t, filepath.Dir(config), map[string]string{"orders.csv": "customer_id,ordered_at,total\n1,2024-01-05T10:00:00Z,50\n"})
	r = runCLI(t, nil, "check", "--db", "--config", config).want(t, exitFailure)
	if !strings.Contains(r.stderr, "shop transactions:") || !strings.Contains(r.stderr, "amount") {
		t.Errorf("check --db on orders without an amount column:\n%s", r)
	}
}
