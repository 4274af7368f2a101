package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
)

// plan, apply, history, actions list, explain --customer and check --db
// against a real database, in the order an operator would use them.
func TestDatabaseCommands(t *testing.T) {
	t.Parallel()
	d := newDBEnv(t, 3000)

	// Nothing works before migrate, and the error says so.
	for _, cmd := range [][]string{{"plan"}, {"apply"}} {
		r := d.run(t, cmd...).want(t, exitFailure)
		if !strings.Contains(r.stderr, "tierflow migrate") {
			t.Errorf("%s on an un-migrated database: stderr %q, want it to say run tierflow migrate", cmd[0], r.stderr)
		}
	}
	if r := d.run(t, "migrate", "--dry-run").want(t, exitOK); !strings.Contains(r.stdout, "pending 0001_init") {
		t.Errorf("migrate --dry-run:\n%s", r.stdout)
	}
	if d.count(t, `SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'tierflow'`) != 0 {
		t.Fatal("plan, apply or migrate --dry-run created the schema")
	}
	if r := d.run(t, "migrate").want(t, exitOK); !strings.Contains(r.stdout, "applying 0001_init") || !strings.Contains(r.stdout, fmt.Sprintf("at version %d", postgres.LatestVersion())) {
		t.Errorf("migrate:\n%s", r.stdout)
	}
	if r := d.run(t, "migrate").want(t, exitOK); !strings.Contains(r.stdout, "up to date") {
		t.Errorf("second migrate:\n%s", r.stdout)
	}
	if r := d.run(t, "check", "--db").want(t, exitOK); !strings.Contains(r.stdout, "ok  retail") {
		t.Errorf("check --db:\n%s", r.stdout)
	}

	// The first plan: changes (everyone is assigned), exit 2, nothing written.
	before := d.digest(t)
	r := d.run(t, "plan", "--as-of", "2024-07-01", "--quiet").want(t, exitOK)
	if !strings.Contains(r.stdout, "Plan for rule set") || !strings.Contains(r.stdout, "initial run") {
		t.Errorf("plan:\n%s", r.stdout)
	}
	d.unchanged(t, "plan", before)

	r = d.run(t, "apply", "--as-of", "2024-07-01", "--quiet").want(t, exitOK)
	if !regexp.MustCompile(`applied retail as run \d+`).MatchString(r.stdout) {
		t.Errorf("apply:\n%s", r.stdout)
	}
	if got := d.count(t, `SELECT count(*) FROM tierflow.assignments`); got != 3*3000 {
		t.Fatalf("apply wrote %d assignments, want 9000", got)
	}
	// Nothing left to do: exit 0.
	before = d.digest(t)
	d.run(t, "plan", "--as-of", "2024-07-01", "--quiet").want(t, exitOK)
	d.unchanged(t, "plan with nothing to do", before)

	// A large change: plan shows it, apply refuses it without
	// --allow-large-change and writes nothing, and applies it with.
	d.exec(t, `UPDATE customer_facts SET spend_prev_12m = spend_12m * 3 WHERE customer_id % 2 = 0`)
	before = d.digest(t)
	r = d.run(t, "plan", "--as-of", "2024-07-02", "--quiet").want(t, exitOK)
	if !strings.Contains(r.stdout, "winback_call") {
		t.Errorf("plan after the change does not show win-back calls:\n%s", r.stdout)
	}
	d.unchanged(t, "plan of a large change", before)
	r = d.run(t, "apply", "--as-of", "2024-07-02", "--quiet").want(t, exitFailure)
	if !strings.Contains(r.stderr, "--allow-large-change") {
		t.Errorf("blocked apply: stderr does not say how to go ahead:\n%s", r.stderr)
	}
	if got := d.count(t, `SELECT count(*) FROM tierflow.runs WHERE status = 'blocked' AND error LIKE '%would change segment%'`); got != 1 {
		t.Errorf("blocked runs recorded: %d, want 1", got)
	}
	if got := d.count(t, `SELECT count(*) FROM tierflow.actions`); got != 0 {
		t.Fatalf("a blocked apply queued %d actions", got)
	}
	d.run(t, "apply", "--as-of", "2024-07-02", "--allow-large-change", "--quiet").want(t, exitOK)
	queued := d.count(t, `SELECT count(*) FROM tierflow.actions`)
	if queued == 0 {
		t.Fatal("the large change queued no actions")
	}

	// history: the moves of a customer who went at risk.
	var key string
	if err := d.db.QueryRow(`SELECT customer_key FROM tierflow.actions WHERE action = 'winback_call' ORDER BY id LIMIT 1`).Scan(&key); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, d.env, "history", "--customer", key, "--config", d.config).want(t, exitOK)
	if !strings.Contains(r.stdout, "retail.lifecycle") || !strings.Contains(r.stdout, "-> at_risk") {
		t.Errorf("history --customer %s:\n%s", key, r.stdout)
	}
	r = d.run(t, "history", "--customer", key, "--format", "json").want(t, exitOK)
	var hist struct {
		FormatVersion int              `json:"format_version"`
		Customer      string           `json:"customer"`
		Moves         []map[string]any `json:"moves"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &hist); err != nil || hist.FormatVersion != 1 || hist.Customer != key || len(hist.Moves) < 4 {
		t.Errorf("history --format json: %v, %d moves:\n%s", err, len(hist.Moves), r.stdout)
	}
	if legacy := d.run(t, "history", "--customer", key, "--json").want(t, exitOK); legacy.stdout != r.stdout {
		t.Errorf("history --json differs from --format json:\n%s", legacy.stdout)
	}
	r = d.run(t, "history", "--customer", key, "--format", "csv").want(t, exitOK)
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != len(hist.Moves)+1 ||
		lines[0] != "id,customer,ruleset,segmentation,from,to,matched,reason,as_of,run_id" {
		t.Errorf("history --format csv:\n%s", r.stdout)
	}
	if r := d.run(t, "history", "--customer", "no-such-customer").want(t, exitOK); !strings.Contains(r.stdout, "no recorded moves") {
		t.Errorf("history of an unknown customer:\n%s", r.stdout)
	}

	// actions list: the queue, filtered.
	r = d.run(t, "actions", "list", "--action", "winback_call", "--limit", "5").want(t, exitOK)
	if got := strings.Count(r.stdout, "winback_call"); got != 5 {
		t.Errorf("actions list --limit 5 shows %d rows:\n%s", got, r.stdout)
	}
	r = d.run(t, "actions", "list", "--customer", key, "--format", "json").want(t, exitOK)
	var queue struct {
		FormatVersion int              `json:"format_version"`
		Actions       []map[string]any `json:"actions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &queue); err != nil || queue.FormatVersion != 1 || len(queue.Actions) == 0 || queue.Actions[0]["customer"] != key {
		t.Errorf("actions list --customer %s --format json: %v:\n%s", key, err, r.stdout)
	}
	r = d.run(t, "actions", "list", "--action", "winback_call", "--limit", "5", "--format", "markdown").want(t, exitOK)
	if !strings.Contains(r.stdout, "| id | ruleset | action | customer |") || strings.Count(r.stdout, "| winback_call |") != 5 {
		t.Errorf("actions list --format markdown:\n%s", r.stdout)
	}

	// runs: the two applies and the blocked one, in every format.
	r = d.run(t, "runs", "--format", "csv").want(t, exitOK)
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) < 4 || !strings.HasPrefix(lines[0], "id,ruleset,rules_hash,kind,") ||
		!strings.Contains(r.stdout, ",blocked,") {
		t.Errorf("runs --format csv:\n%s", r.stdout)
	}
	r = d.run(t, "runs", "--format", "json").want(t, exitOK)
	var runs struct {
		FormatVersion int `json:"format_version"`
		Runs          []struct {
			Status string `json:"status"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil || runs.FormatVersion != 1 || len(runs.Runs) < 3 {
		t.Errorf("runs --format json: %v:\n%s", err, r.stdout)
	}
	if r := d.run(t, "actions", "list", "--status", "done").want(t, exitOK); !strings.Contains(r.stdout, "no actions match") {
		t.Errorf("actions list --status done:\n%s", r.stdout)
	}

	// explain --customer: the customer's facts and state from the database.
	r = d.run(t, "explain", "--customer", key, "--as-of", "2024-07-02").want(t, exitOK)
	if !strings.Contains(r.stdout, "customer "+key) || !strings.Contains(r.stdout, "at_risk") {
		t.Errorf("explain --customer %s:\n%s", key, r.stdout)
	}
	d.run(t, "explain", "--customer", "no-such-customer").want(t, exitFailure)

	// An apply repeated with the same as-of changes nothing.
	before = d.digest(t)
	d.run(t, "plan", "--as-of", "2024-07-02", "--quiet").want(t, exitOK)
	d.unchanged(t, "plan after the apply", before)
	d.run(t, "apply", "--as-of", "2024-07-02", "--quiet").want(t, exitOK)
	if got := d.count(t, `SELECT count(*) FROM tierflow.actions`); got != queued {
		t.Fatalf("the repeated apply changed the queue from %d to %d actions", queued, got)
	}
	if got := d.count(t, `SELECT changed + actions FROM tierflow.runs ORDER BY id DESC LIMIT 1`); got != 0 {
		t.Fatalf("the repeated apply recorded %d changes", got)
	}
}

// plan --format json (and the deprecated --json) prints one report per
// rule set with the documented keys (docs/plan-json.md), format_version 1.
func TestPlanJSON(t *testing.T) {
	t.Parallel()
	d := newDBEnv(t, 500)
	d.run(t, "migrate").want(t, exitOK)
	r := d.run(t, "plan", "--format", "json", "--as-of", "2024-07-01").want(t, exitOK)
	// Samples are drawn anew by each plan, so compare the shape.
	var legacy []jobs.PlanReport
	if l := d.run(t, "plan", "--json", "--as-of", "2024-07-01").want(t, exitOK); json.Unmarshal([]byte(l.stdout), &legacy) != nil ||
		len(legacy) != 1 || legacy[0].Changed != 500 {
		t.Errorf("plan --json is not --format json:\n%s", l.stdout)
	}
	if md := d.run(t, "plan", "--format", "markdown", "--as-of", "2024-07-01", "--quiet").want(t, exitOK); !strings.HasPrefix(md.stdout, "### tierflow plan: ") ||
		!strings.Contains(md.stdout, "| segment | before | after | change |") {
		t.Errorf("plan --format markdown:\n%s", md.stdout)
	}
	var reports []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil {
		t.Fatalf("plan --json is not a JSON array of objects: %v\n%s", err, r.stdout)
	}
	if len(reports) != 1 {
		t.Fatalf("plan --json printed %d reports, want 1", len(reports))
	}
	rep := reports[0]
	for _, key := range []string{"format_version", "mode", "ruleset", "rules_hash", "as_of", "initial", "customers",
		"changed", "actions_total", "segmentations", "actions", "errors", "samples", "guard"} {
		if _, ok := rep[key]; !ok {
			t.Errorf("plan --json lacks %q", key)
		}
	}
	var typed jobs.PlanReport
	if err := json.Unmarshal([]byte(r.stdout)[1:len(strings.TrimSpace(r.stdout))-1], &typed); err != nil {
		t.Fatal(err)
	}
	if typed.FormatVersion != 1 || typed.Mode != "plan" || typed.RuleSet != "retail" || !typed.Initial ||
		typed.Customers != 500 || typed.Changed != 500 || len(typed.Segmentations) != 3 || typed.AsOf.Format("2006-01-02") != "2024-07-01" {
		t.Errorf("plan --json: %+v", typed)
	}
	if len(typed.RulesHash) < 16 {
		t.Errorf("rules_hash %q", typed.RulesHash)
	}

	// apply --format json prints the same shape, mode apply, status
	// succeeded, and nothing else.
	r = d.run(t, "apply", "--format", "json", "--as-of", "2024-07-01").want(t, exitOK)
	var applied []jobs.PlanReport
	if err := json.Unmarshal([]byte(r.stdout), &applied); err != nil || len(applied) != 1 {
		t.Fatalf("apply --json: %v\n%s", err, r.stdout)
	}
	if applied[0].Mode != "apply" || applied[0].Status != "succeeded" || applied[0].Changed != typed.Changed {
		t.Errorf("apply --json: mode %q status %q changed %d", applied[0].Mode, applied[0].Status, applied[0].Changed)
	}
	r = d.run(t, "plan", "--json", "--as-of", "2024-07-01").want(t, exitOK)
	if err := json.Unmarshal([]byte(r.stdout), &applied); err != nil || applied[0].HasChanges() {
		t.Errorf("plan --json after the apply: %v\n%s", err, r.stdout)
	}
}

// An apply that finds another apply of the rule set running exits 1,
// says so, and is recorded as skipped.
func TestApplyAlreadyRunning(t *testing.T) {
	t.Parallel()
	d := newDBEnv(t, 100)
	d.run(t, "migrate").want(t, exitOK)
	tx, err := d.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtext('tierflow:tierflow'), hashtext('retail'))`); err != nil {
		t.Fatal(err)
	}
	r := d.run(t, "apply", "--quiet").want(t, exitFailure)
	if !strings.Contains(r.stderr, "already running") {
		t.Errorf("apply while locked: stderr %q", r.stderr)
	}
	if got := d.count(t, `SELECT count(*) FROM tierflow.runs WHERE status = 'skipped'`); got != 1 {
		t.Errorf("skipped runs: %d, want 1", got)
	}
	if got := d.count(t, `SELECT count(*) FROM tierflow.assignments`); got != 0 {
		t.Errorf("a skipped apply wrote %d assignments", got)
	}
}

// check --db names what the facts source lacks.
func TestCheckDBBadSource(t *testing.T) {
	t.Parallel()
	d := newDBEnv(t, 10)
	d.config = d.writeConfig(t, "SELECT customer_id, spend_12m, spend_prev_12m, orders_12m::text AS orders_12m, first_order_at, channel FROM customer_facts")
	r := d.run(t, "check", "--db").want(t, exitFailure)
	for _, want := range []string{`fact "last_order_at"`, `no column "last_order_at"`, `fact "orders_12m" is declared integer`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check --db: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
