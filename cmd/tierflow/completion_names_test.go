package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var (
	retailSegmentationNames = []string{"value_tier", "lifecycle", "source"}
	retailActionNames       = []string{"winback_call", "onboarding_message", "vip_care_visit", "account_review"}
	retailOutcomeNames      = []string{"reached", "no_answer", "converted", "declined"}
)

// TestCompleteNames: rule-set, segmentation, action, outcome and
// destination names come from the project's rule files, found through
// --config or ./tierflow.yaml.
func TestCompleteNames(t *testing.T) {
	dir, write := fileProject(t, "", "")
	config := filepath.Join(dir, "tierflow.yaml")
	write("tierflow.yaml", "destinations:\n  crm_hook: {type: file, path: out.jsonl}\n  outbox: {type: file, path: outbox.jsonl}\n"+
		"database:\n  path: tierflow.db\nrulesets:\n  - rules: rules/retail.yaml\n    source: {file: facts.csv}\n")
	for _, c := range []struct {
		words []string
		want  []string
	}{
		{[]string{"plan", "--config", config, "--ruleset", ""}, []string{"retail"}},
		{[]string{"runs", "--config=" + config, "--ruleset=r"}, []string{"--ruleset=retail"}},
		{[]string{"sizes", "--config", config, ""}, []string{"retail"}},
		{[]string{"sizes", "--config", config, "retail", ""}, nil},
		{[]string{"sizes", "--config", config, "--segmentation", ""}, retailSegmentationNames},
		{[]string{"sizes", "--config", config, "retail", "--segmentation", "l"}, []string{"lifecycle"}},
		{[]string{"actions", "list", "--config", config, "--action", ""}, retailActionNames},
		{[]string{"actions", "done", "1042", "--config", config, "--outcome", ""}, retailOutcomeNames},
		{[]string{"actions", "list", "--config", config, "--destination", ""}, []string{"crm_hook", "outbox"}},
		{[]string{"deliver", "--config", config, "--destination", "o"}, []string{"outbox"}},
		{[]string{"actions", "list", "--config", config, "--ruleset", "nope", "--action", ""}, nil},
		{[]string{"effects", "--config", config, "--no-such-flag", ""}, []string{"retail"}},
	} {
		if got, _ := completed(t, nil, c.words...); !slices.Equal(got, c.want) {
			t.Errorf("__complete %q = %q, want %q", c.words, got, c.want)
		}
	}
	// ./tierflow.yaml when there is no --config.
	t.Chdir(dir)
	wantCands(t, []string{"retail"}, "apply", "--ruleset", "")
	wantCands(t, []string{"retail"}, "coverage", "re")
}

// TestCompleteNamesFromPaths: for commands given rule files, the names
// come from those files.
func TestCompleteNamesFromPaths(t *testing.T) {
	t.Parallel()
	wantCands(t, []string{"churn_signals"}, "explain", "--facts", "c.yaml", "../../examples/b2b/churn_signals.yaml", "--ruleset", "")
	got, _ := completed(t, nil, "explain", "../../examples", "--ruleset", "")
	slices.Sort(got)
	if want := []string{"churn_signals", "key_accounts", "retail", "retail_orders"}; !slices.Equal(got, want) {
		t.Errorf("explain ../../examples --ruleset: %q, want %q", got, want)
	}
	wantCands(t, []string{"retail"}, "explain", retailRules, "--ruleset", "")
}

// TestCompleteBrokenProject: a rule file or config that does not load
// gives no names, and no word on stdout or stderr beyond the directive.
func TestCompleteBrokenProject(t *testing.T) {
	dir, write := fileProject(t, "", "")
	config := filepath.Join(dir, "tierflow.yaml")
	write("rules/retail.yaml", "ruleset: retail\nsegmentations: [{name: tier, segments: [{name: a, when: nonsense(}]}]\n")
	// The rule set's name is still read from the head of its file.
	wantCands(t, []string{"retail"}, "plan", "--config", config, "--ruleset", "")
	wantCands(t, nil, "sizes", "--config", config, "--segmentation", "")
	write("rules/retail.yaml", "{{{ not yaml")
	wantCands(t, nil, "plan", "--config", config, "--ruleset", "")
	write("tierflow.yaml", "rulesets: [{rules: }\n")
	wantCands(t, nil, "plan", "--config", config, "--ruleset", "")
	wantCands(t, nil, "plan", "--config", filepath.Join(dir, "missing.yaml"), "--ruleset", "")
	wantCands(t, nil, "explain", filepath.Join(dir, "rules"), "--ruleset", "")
}

// TestCompleteNoDatabase: with a PostgreSQL state store configured and
// its URL in the environment, completing opens nothing and prints no
// secret: the names come from the rule files alone.
func TestCompleteNoDatabase(t *testing.T) {
	t.Parallel()
	dir, write := fileProject(t, "", "")
	write("tierflow.yaml", "database:\n  url_env: SHOP_DB\nrulesets:\n  - rules: rules/retail.yaml\n    source: {query: SELECT * FROM facts}\n")
	env := map[string]string{"SHOP_DB": "postgres://shop:s3cret-pw@127.0.0.1:1/shop?connect_timeout=30"}
	r := runCLI(t, env, completeCommand, "runs", "--config", filepath.Join(dir, "tierflow.yaml"), "--ruleset", "")
	if r.code != exitOK || r.stdout != "retail\t零售客户分群\n:0\n" || r.stderr != "" {
		t.Errorf("completing with a database configured: %s", r)
	}
	if strings.Contains(r.stdout+r.stderr, "s3cret") {
		t.Error("the database URL leaked into the completion")
	}
	if _, err := os.Stat(filepath.Join(dir, "tierflow.db")); err == nil {
		t.Error("an embedded store was created")
	}
}
