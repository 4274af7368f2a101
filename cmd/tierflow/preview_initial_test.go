package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// plan --facts honours initial_actions from the config, as plan on the
// database does: a first run queues actions only when it is set.
func TestPlanFactsInitialActions(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	facts := "customer_id,spend_12m,spend_prev_12m,orders_12m,first_order_at,last_order_at,channel\n" +
		"1,300,0,1,2024-06-01,2024-06-01,online\n" + // new: the welcome series
		"2,2500,2000,3,2021-03-01,2024-05-01,store\n"
	for _, initial := range []bool{false, true} {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
			t.Fatal(err)
		}
		config := "rulesets:\n  - rules: rules/retail.yaml\n    source: {file: facts.csv}\n"
		if initial {
			config += "    initial_actions: true\n"
		}
		for name, body := range map[string]string{"tierflow.yaml": config, "facts.csv": facts, "rules/retail.yaml": string(src)} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, args := range [][]string{
			{"--config", filepath.Join(dir, "tierflow.yaml")},                                             // the config's rule files
			{"--config", filepath.Join(dir, "tierflow.yaml"), filepath.Join(dir, "rules", "retail.yaml")}, // named on the command line
		} {
			r := runCLI(t, nil, append([]string{"plan", "--quiet", "--format", "json", "--as-of", "2024-07-01",
				"--facts", filepath.Join(dir, "facts.csv")}, args...)...)
			var plans []struct {
				ActionsTotal int `json:"actions_total"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &plans); err != nil || len(plans) != 1 {
				t.Fatalf("plan --format json: %v\n%s", err, r)
			}
			total := plans[0].ActionsTotal
			if want := map[bool]int{false: 0, true: 1}[initial]; total != want {
				t.Errorf("initial_actions %v, %v: %d actions, want %d\n%s", initial, args, total, want, r.stdout)
			}
		}
	}
}
