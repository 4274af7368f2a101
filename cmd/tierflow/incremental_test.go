package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// retailWithoutCoverage is the retail example's rule file without its
// coverage targets (storetest.WithoutCoverage): a rule set whose
// incremental runs leave customers out.
func retailWithoutCoverage(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for i := 0; i+1 < len(storetest.WithoutCoverage); i += 2 {
		if !strings.Contains(text, storetest.WithoutCoverage[i]) {
			t.Fatalf("retail.yaml no longer contains %q", storetest.WithoutCoverage[i])
		}
		text = strings.Replace(text, storetest.WithoutCoverage[i], storetest.WithoutCoverage[i+1], 1)
	}
	return text
}

// With incremental: true, an apply the day after another leaves out the
// customers whose marks say nothing changed, and reports the same moves
// as an apply with --full, which evaluates everyone; a slot of
// full_schedule since the last apply makes a run full; the config keys
// are checked like the others.
func TestApplyIncremental(t *testing.T) {
	t.Parallel()
	var rows strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&rows, "%d,%d,%d,%d,2023-0%d-01,2024-06-%02d,online\n", i, 200*i, 150*i, i%9, 1+i%9, 1+i%28)
	}
	dir, write := fileProject(t, "    incremental: true\n", rows.String())
	write("rules/retail.yaml", retailWithoutCoverage(t))
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	runCLI(t, nil, "apply", "--as-of", "2024-07-01", "--quiet", "--config", config).want(t, exitOK)
	runCLI(t, nil, "apply", "--as-of", "2024-07-02", "--quiet", "--config", config).want(t, exitOK)

	report := func(args ...string) *jobs.PlanReport {
		t.Helper()
		r := runCLI(t, nil, append([]string{"plan", "--as-of", "2024-07-03", "--format", "json", "--config", config}, args...)...).want(t, exitOK)
		var reps []*jobs.PlanReport
		if err := json.Unmarshal([]byte(r.stdout), &reps); err != nil || len(reps) != 1 || reps[0].Incremental == nil {
			t.Fatalf("plan %v: %v\n%s", args, err, r.stdout)
		}
		return reps[0]
	}
	incr, full := report(), report("--full")
	if incr.Incremental.Skipped == 0 || incr.Incremental.Skipped != incr.Incremental.Asleep {
		t.Errorf("plan with incremental: true: %+v; want the asleep customers skipped", incr.Incremental)
	}
	if full.Incremental.Skipped != 0 || full.Incremental.Asleep != incr.Incremental.Asleep || full.Incremental.Drift != 0 {
		t.Errorf("plan --full: %+v; want nobody skipped, as many asleep (%d), no drift", full.Incremental, incr.Incremental.Asleep)
	}
	if incr.Changed != full.Changed || incr.ActionsTotal != full.ActionsTotal || incr.Customers != full.Customers {
		t.Errorf("incremental plan: %d customers, %d changed, %d actions; --full: %d, %d, %d",
			incr.Customers, incr.Changed, incr.ActionsTotal, full.Customers, full.Changed, full.ActionsTotal)
	}

	// A slot of full_schedule since the last apply makes the run full.
	conf := func(extra string) {
		write("tierflow.yaml", "database:\n  path: tierflow.db\nrulesets:\n  - rules: rules/retail.yaml\n    source: {file: facts.csv}\n    incremental: true\n"+extra)
	}
	conf("    full_schedule: \"0 0 3 7 *\"\n") // July 3rd at midnight
	if r := report().Incremental; r.Skipped != 0 || !strings.Contains(r.Full, "full_schedule slot 2024-07-03T00:00:00") {
		t.Errorf("plan on the day of a full_schedule slot: %+v; want a full run naming the slot", r)
	}
	conf("    full_schedule: \"0 0 4 7 *\"\n") // the day after
	if r := report().Incremental; r.Skipped == 0 || r.Full != "" {
		t.Errorf("plan before a full_schedule slot: %+v; want the asleep customers skipped", r)
	}

	conf("    full_schedule: every sunday\n")
	r := runCLI(t, nil, "plan", "--config", config)
	if r.code != exitFailure || !strings.Contains(r.stderr, "full_schedule") || !strings.Contains(r.stderr, "@weekly") {
		t.Errorf("full_schedule: every sunday: %s; want exit 1 naming the key and an example", r)
	}
	write("tierflow.yaml", "database:\n  path: tierflow.db\nrulesets:\n  - rules: rules/retail.yaml\n    source: {file: facts.csv}\n    incremental: yes please\n")
	r = runCLI(t, nil, "plan", "--config", config)
	if r.code != exitFailure || !strings.Contains(r.stderr, "incremental") {
		t.Errorf("incremental: yes please: %s; want exit 1 naming the key", r)
	}
}
