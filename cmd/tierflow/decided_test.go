package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
)

// On PostgreSQL, an incremental plan of facts in the state database lets
// the database run the rules on the customers the marks select and
// leaves unread those they leave unchanged: it reads fewer customers
// than with --engine-only and reports the same moves and actions, and
// says which way it went in the JSON and the text.
func TestPlanDecidedInDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tierflow against PostgreSQL")
	}
	t.Parallel()
	url := pgtest.URL(t)
	db := shardFactsDB(t, url)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"retail.yaml":   retailWithoutCoverage(t),
		"tierflow.yaml": "database: {url_env: TIERFLOW_DATABASE_URL}\nrulesets:\n  - rules: retail.yaml\n    source: customer_facts\n    incremental: true\n",
	})
	config := filepath.Join(dir, "tierflow.yaml")
	env := map[string]string{"TIERFLOW_DATABASE_URL": url}
	runCLI(t, env, "migrate", "--config", config).want(t, exitOK)
	for _, day := range []string{"2024-07-01", "2024-07-02"} { // the first run's marks wake everyone; the second's hold
		runCLI(t, env, "apply", "--quiet", "--allow-large-change", "--as-of", day, "--config", config).want(t, exitOK)
	}
	// Every customer's spend grows by one, and so its digest changes;
	// every seventh spent three times as much the year before.
	if _, err := db.Exec(`UPDATE customer_facts SET spend_12m = spend_12m + 1,
        spend_prev_12m = CASE WHEN customer_id % 7 = 0 THEN spend_12m * 3 ELSE spend_prev_12m END`); err != nil {
		t.Fatal(err)
	}
	plan := func(args ...string) *jobs.PlanReport {
		t.Helper()
		r := runCLI(t, env, append([]string{"plan", "--as-of", "2024-07-03", "--format", "json", "--config", config}, args...)...).want(t, exitOK)
		var reps []*jobs.PlanReport
		if err := json.Unmarshal([]byte(r.stdout), &reps); err != nil || len(reps) != 1 || reps[0].Incremental == nil {
			t.Fatalf("plan %v: %v\n%s", args, err, r.stdout)
		}
		return reps[0]
	}
	in, eng := plan(), plan("--engine-only")
	if !in.Incremental.InDatabase || in.Incremental.NotInDatabase != "" {
		t.Errorf("plan: incremental %+v; want the database to decide", in.Incremental)
	}
	if eng.Incremental.InDatabase || !strings.Contains(eng.Incremental.NotInDatabase, "engine") {
		t.Errorf("plan --engine-only: incremental %+v; want the marks alone to decide, and say so", eng.Incremental)
	}
	if in.Changed == 0 || in.Changed != eng.Changed || in.ActionsTotal != eng.ActionsTotal || in.Customers != eng.Customers {
		t.Errorf("plan: %d customers, %d changed, %d actions; --engine-only: %d, %d, %d; want the same, with moves",
			in.Customers, in.Changed, in.ActionsTotal, eng.Customers, eng.Changed, eng.ActionsTotal)
	}
	for i := range in.Segmentations {
		if a, b := in.Segmentations[i], eng.Segmentations[i]; a.Moved != b.Moved || len(a.Moves) != len(b.Moves) {
			t.Errorf("segmentation %s: %d moved in %d kinds of move; --engine-only: %d in %d", a.Name, a.Moved, len(a.Moves), b.Moved, len(b.Moves))
		}
	}
	read, readEngine := in.Customers-in.Incremental.NotRead, eng.Customers-eng.Incremental.NotRead
	t.Logf("customers read: %d with the database deciding, %d by the marks alone, of %d; %d changed", read, readEngine, in.Customers, in.Changed)
	if read >= readEngine || read < in.Changed {
		t.Errorf("the database deciding read %d customers, the marks alone %d; want fewer, and at least the %d who change", read, readEngine, in.Changed)
	}
	r := runCLI(t, env, "plan", "--as-of", "2024-07-03", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "PostgreSQL ran the rules first") {
		t.Errorf("plan's text does not say the database decided:\n%s", r.stdout)
	}
}
