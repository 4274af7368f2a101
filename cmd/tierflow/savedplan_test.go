package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plan --out saves a plan; apply FILE applies it when nothing changed
// since, and refuses, writing nothing, when the facts or the rules did
// (issue 18, item 3).
func TestApplySavedPlan(t *testing.T) {
	t.Parallel()
	dir, write := fileProject(t, "    guard: {max_moved: 100%}\n",
		"1,300,0,1,2024-06-01,2024-06-01,online\n2,2500,2000,3,2021-03-01,2024-05-01,store\n")
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	config, saved := filepath.Join(dir, "tierflow.yaml"), filepath.Join(dir, "plan.json")
	cli := func(args ...string) result { return runCLI(t, nil, append(args, "--config", config)...) }
	cli("migrate").want(t, exitOK)

	// A first plan, applied as saved.
	r := cli("plan", "--quiet", "--as-of", "2024-07-01", "--out", saved).want(t, exitOK)
	if !strings.Contains(r.stderr, "saved the plan to "+saved) {
		t.Fatalf("plan --out: %s", r)
	}
	cli("apply", "--quiet", saved).want(t, exitOK)
	runs := cli("runs").want(t, exitOK).stdout
	if !strings.Contains(runs, "2024-07-01") || !strings.Contains(runs, "succeeded") {
		t.Fatalf("apply of the saved plan did not run at its as-of:\n%s", runs)
	}

	// Facts change after the plan: customer 2 becomes a VIP.
	cli("plan", "--quiet", "--as-of", "2024-08-01", "--out", saved).want(t, exitOK)
	write("facts.csv", retailHeader+"1,300,0,1,2024-06-01,2024-06-01,online\n2,90000,2000,9,2021-03-01,2024-07-20,store\n")
	r = cli("apply", "--quiet", saved).want(t, exitFailure)
	if !strings.Contains(r.stderr, "would not do what the saved plan showed") || !strings.Contains(r.stderr, "run tierflow plan --out again") {
		t.Fatalf("apply of a stale plan: %s", r)
	}
	if got := cli("runs").want(t, exitOK).stdout; !strings.Contains(got, "blocked") {
		t.Fatalf("the refused apply is not recorded as blocked:\n%s", got)
	}

	// The rules change after the plan.
	cli("plan", "--quiet", "--as-of", "2024-08-01", "--out", saved).want(t, exitOK)
	write("rules/retail.yaml", strings.Replace(string(src), "key_spend: 10000", "key_spend: 9000", 1))
	r = cli("apply", "--quiet", saved).want(t, exitFailure)
	if !strings.Contains(r.stderr, "the rules' hash was") {
		t.Fatalf("apply of a plan of other rules: %s", r)
	}

	// A preview is no plan to apply.
	r = cli("plan", "--quiet", "--out", saved, "--facts", filepath.Join(dir, "facts.csv"), filepath.Join(dir, "rules", "retail.yaml")).want(t, exitFailure)
	if !strings.Contains(r.stderr, "it does not go with --baseline, --facts or rule files") {
		t.Fatalf("plan --out of a preview: %s", r)
	}

	// Not a plan file.
	write("other.json", `{"a": 1}`)
	r = cli("apply", filepath.Join(dir, "other.json")).want(t, exitFailure)
	if !strings.Contains(r.stderr, "is not a plan tierflow plan --out wrote") {
		t.Fatalf("apply of a file that is no plan: %s", r)
	}
}
