package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// syncProject writes a project whose destination export (a file) has
// sync (the YAML list), migrates it and returns the config path.
func syncProject(t *testing.T, sync string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"rules/shop.yaml": strings.Replace(hookRules, "%s", "export", 1),
		"facts.csv":       "customer_id,spend_12m\n1,1500\n2,20\n",
		"tierflow.yaml": "database: {path: state.db}\nrulesets:\n  - rules: rules/shop.yaml\n    source: {file: facts.csv}\n" +
			"destinations:\n  export: {type: file, path: out.jsonl, sync: " + sync + "}\n",
	})
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	return config
}

// A destination with sync: [tier] gets a sync.tier action for every
// move in tier, with the move as its payload; the first run (no
// initial_actions) syncs nothing.
func TestSyncDelivered(t *testing.T) {
	t.Parallel()
	config := syncProject(t, "[tier]")
	dir := filepath.Dir(config)
	now := time.Now().UTC().Truncate(time.Second)
	apply := func(at time.Time) {
		runCLI(t, nil, "apply", "--quiet", "--allow-large-change", "--config", config, "--as-of", at.Format(time.RFC3339)).want(t, exitOK)
	}
	apply(now.Add(-2 * time.Hour))
	writeFiles(t, dir, map[string]string{"facts.csv": "customer_id,spend_12m\n1,1500\n2,2000\n3,5\n"})
	apply(now.Add(-time.Hour))
	apply(now.Add(-time.Hour)) // a rerun queues nothing new
	r := runCLI(t, nil, "deliver", "--once", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "3 delivered") {
		t.Errorf("deliver --once:\n%s", r)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var d struct {
			Action   string         `json:"action"`
			Customer string         `json:"customer"`
			Payload  map[string]any `json:"payload"`
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got[d.Action+"/"+d.Customer] = d.Payload
	}
	if len(got) != 3 || got["vip_welcome/2"] == nil {
		t.Fatalf("want vip_welcome and sync.tier for customer 2 and sync.tier for new customer 3, got:\n%s", b)
	}
	if p := got["sync.tier/2"]; p["segmentation"] != "tier" || p["from"] != "small" || p["to"] != "vip" || p["reason"] == "" {
		t.Errorf("sync of customer 2: %v\n%s", p, b)
	}
	if p, ok := got["sync.tier/3"]; !ok || p["from"] != nil || p["to"] != "small" {
		t.Errorf("sync of new customer 3: %v\n%s", p, b)
	}
}

// sync: names are checked against the rule sets' segmentations, with
// the position in tierflow.yaml and the near name.
func TestSyncUnknownSegmentation(t *testing.T) {
	t.Parallel()
	config := syncProject(t, "[teir]")
	r := runCLI(t, nil, "apply", "--config", config).want(t, exitFailure)
	for _, want := range []string{"tierflow.yaml:6:48: destinations.export.sync: unknown segmentation \"teir\"", `did you mean "tier"?`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r)
		}
	}
}
