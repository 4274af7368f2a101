package jobs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/rules"
)

func compile(t *testing.T, src string) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("t.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestPlanDiffAcrossShapes: the baseline reads a fact and defines a
// segmentation the proposal drops; the proposal adds a segmentation and
// lowers a threshold. Both are evaluated on one facts file.
func TestPlanDiffAcrossShapes(t *testing.T) {
	baseline := compile(t, `
ruleset: shop
facts: {spend: number, region: string}
segmentations:
  - name: tier
    segments:
      - {name: vip, when: spend >= 100}
      - {name: regular, fallback: true}
  - name: zone
    segments:
      - {name: north, when: region == "north"}
      - {name: elsewhere, fallback: true}
actions:
  - {name: hello, when: 'entered("tier", "vip")', cooldown: 30d}
`)
	proposed := compile(t, `
ruleset: shop
facts: {spend: number}
segmentations:
  - name: tier
    segments:
      - {name: vip, when: spend >= 50}
      - {name: regular, fallback: true}
  - name: size
    segments:
      - {name: big, when: spend >= 10}
      - {name: small, fallback: true}
actions:
  - {name: hello, when: 'entered("tier", "vip")', cooldown: 30d}
`)
	path := filepath.Join(t.TempDir(), "facts.csv")
	csv := "customer_id,spend,region\n1,120,north\n2,70,south\n3,5,north\n"
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := factsfile.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	opts := jobs.Options{AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), Workers: 2, BatchSize: 2}
	rep, err := jobs.PlanDiff(context.Background(), jobs.NoState{}, store, baseline, proposed, opts,
		jobs.DiffLimits{MaxActions: map[string]int{"hello": 0}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Customers != 3 || rep.Differ != 3 {
		t.Fatalf("customers %d differ %d, want 3 and 3 (zone removed, size added)", rep.Customers, rep.Differ)
	}
	moved := map[string]int{}
	for _, s := range rep.Segmentations {
		moved[s.Name] = s.Moved
	}
	if moved["tier"] != 1 || moved["zone"] != 3 || moved["size"] != 3 {
		t.Fatalf("moved per segmentation = %v", moved)
	}
	for _, s := range rep.Segmentations {
		if s.Name == "tier" && (len(s.Changes) != 1 || s.Changes[0].From != "regular" || s.Changes[0].To != "vip") {
			t.Fatalf("tier changes = %+v, want regular -> vip", s.Changes)
		}
	}
	if len(rep.Actions) != 1 || rep.Actions[0].Added != 1 || rep.Actions[0].Before != 1 || rep.Actions[0].After != 2 {
		t.Fatalf("actions = %+v, want hello gained by one customer (1 -> 2)", rep.Actions)
	}
	if !rep.Limits.Crossed || !strings.Contains(strings.Join(rep.Limits.Reasons, " "), "for hello, over the limit of 0 by 1") {
		t.Fatalf("limits = %+v", rep.Limits)
	}
}

func TestPlanDiffNoEffect(t *testing.T) {
	rs := compile(t, `
ruleset: shop
facts: {spend: number}
segmentations:
  - name: tier
    segments:
      - {name: vip, when: spend >= 100}
      - {name: regular, fallback: true}
`)
	path := filepath.Join(t.TempDir(), "facts.jsonl")
	if err := os.WriteFile(path, []byte("{\"customer_id\": 1, \"spend\": 120}\n{\"customer_id\": 2, \"spend\": 3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := factsfile.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := jobs.PlanDiff(context.Background(), jobs.NoState{}, store, rs, rs, jobs.Options{}, jobs.DiffLimits{MaxMovedShare: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if rep.HasEffect() || rep.Limits.Crossed || rep.Customers != 2 {
		t.Fatalf("identical rules: effect=%v limits=%+v customers=%d", rep.HasEffect(), rep.Limits, rep.Customers)
	}
}

func TestFactsFileBadRows(t *testing.T) {
	rs := compile(t, `
ruleset: shop
facts: {spend: number, since: time}
segmentations:
  - name: tier
    segments:
      - {name: vip, when: spend >= 100 && days_since(since) > 1}
      - {name: regular, fallback: true}
`)
	path := filepath.Join(t.TempDir(), "facts.csv")
	csv := "customer_id,spend,since\n1,120,2024-01-01\n2,n/a,2024-01-01\n3,5,yesterday\n"
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	store, _ := factsfile.Open(path, "")
	out, err := jobs.Plan(context.Background(), jobs.NoState{}, store, rs, jobs.Options{Guard: jobs.Guard{MaxErrorRate: -1}})
	if err != nil {
		t.Fatal(err)
	}
	// A bad value is the customer's error, naming the fact, the raw value
	// and the line; the other customers are evaluated.
	e := out.Report.Errors
	if out.Report.Customers != 3 || e.Customers != 2 || e.ByRule["facts.spend"] != 1 || e.ByRule["facts.since"] != 1 {
		t.Fatalf("customers %d, errors %+v; want 3 customers, 2 with an error on spend and since", out.Report.Customers, e)
	}
	msgs := ""
	for _, ex := range e.Examples {
		msgs += ex.Customer + ": " + ex.Message + "\n"
	}
	for _, want := range []string{`2: "n/a" is not a number`, "facts.csv:3)", `3: "yesterday" is not a date`, "facts.csv:4)"} {
		if !strings.Contains(msgs, want) {
			t.Errorf("error examples lack %q:\n%s", want, msgs)
		}
	}
}
