package views

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

// runFixtures are two explanations of a recorded run: one today's
// evaluation agrees with, and one whose facts and rules have changed
// since, with a note on the state before the run.
func runFixtures() []*jobs.RunExplanation {
	traces := traceFixtures()
	run := jobs.RunRef{ID: 2, RuleSet: "retail", RulesHash: "9f2c4e81d0a7b3c5e6f1", AsOf: asOf, Status: jobs.StatusSucceeded}
	queued := jobs.RunOutcome{
		Moves:   []jobs.RunMove{{Segmentation: "lifecycle", From: "", To: "active", Reason: "fallback"}},
		Actions: []jobs.RunAction{{ID: 17, Action: "winback_call", Status: "pending", Due: asOf.AddDate(0, 0, 1)}},
	}
	agrees := &jobs.RunExplanation{Run: run, Customer: "42", Recorded: queued, Evaluated: queued, Trace: traces[0],
		Verdict: jobs.VerdictAgrees, RulesHash: run.RulesHash}
	agrees.Evaluated.Actions = []jobs.RunAction{{Action: "winback_call", Status: "queued", Due: asOf.AddDate(0, 0, 1)}}
	differs := &jobs.RunExplanation{Run: run, Customer: "1031", Recorded: queued, Trace: traces[2], Verdict: jobs.VerdictDiffers,
		RulesChanged: true, RulesHash: "03b7aa5e91c2d4f6",
		Evaluated: jobs.RunOutcome{Actions: []jobs.RunAction{{Action: "vip_care_visit", Status: jobs.ActionHeldOut, Due: asOf}}},
		Notes:     []string{"value_tier before run 2: whether a downgrade grace in vip was pending is not kept; taken as none"}}
	differs.Recorded.Moves = nil
	return []*jobs.RunExplanation{agrees, differs}
}

func renderRuns(t *testing.T, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	v, err := NewExplain(format, &b)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range runFixtures() {
		if err := v.Run(retail, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestExplainRunGolden compares explain --run in every format with
// testdata/explainrun.FORMAT.golden; go test -update rewrites them.
func TestExplainRunGolden(t *testing.T) {
	for _, f := range reportFormats {
		t.Run(string(f), func(t *testing.T) {
			got := renderRuns(t, string(f))
			path := filepath.Join("testdata", "explainrun."+string(f)+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

// The record comes first and is called the record; when the evaluation
// differs it is shown beside the record and called today's evaluation,
// never the record.
func TestExplainRunText(t *testing.T) {
	out := string(renderRuns(t, "text"))
	agrees, differs, _ := strings.Cut(out, "\ncustomer 1031")
	for _, want := range []string{
		"customer 42, rule set 零售客户分群 (retail), run 2 as of 2024-07-01\n\nrun 2 moved 42 in lifecycle from (none) to active, and queued winback_call (action 17, now pending).\n",
		"Re-evaluated at run 2's as-of, from the state before it and today's facts, the rules agree with the record:\n",
	} {
		if !strings.Contains(agrees, want) {
			t.Errorf("the agreeing explanation lacks %q:\n%s", want, agrees)
		}
	}
	for _, want := range []string{
		"The rules have changed since run 2 (its rules hash 9f2c4e81d0a7, today's 03b7aa5e91c2)",
		"The facts or the rules differ from those of run 2",
		"  recorded by run 2:   no move; queued winback_call (action 17, now pending)\n",
		"  today's evaluation:  no move; withheld vip_care_visit (held_out)\n",
		"What follows is today's evaluation, not the record",
		"note: value_tier before run 2: whether a downgrade grace",
	} {
		if !strings.Contains(differs, want) {
			t.Errorf("the differing explanation lacks %q:\n%s", want, differs)
		}
	}
	if strings.Contains(differs, "agree") {
		t.Errorf("the differing explanation says the rules agree:\n%s", differs)
	}
}

// Every field of explain --run's JSON is documented in docs/output.md.
func TestExplainRunJSONDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/output.md")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Explanations []map[string]any `json:"explanations"`
	}
	if err := json.Unmarshal(renderRuns(t, "json"), &v); err != nil || len(v.Explanations) != 2 {
		t.Fatalf("explain --run JSON: %v, %d explanations", err, len(v.Explanations))
	}
	run, ok := v.Explanations[0]["run"].(map[string]any)
	if !ok || run["verdict"] != "agrees" || v.Explanations[1]["run"].(map[string]any)["verdict"] != "differs" {
		t.Fatalf("explanations without their run and verdict: %v", v.Explanations)
	}
	for key := range collectKeys(run, map[string]bool{}) {
		if !regexp.MustCompile("`run[^`]*[`.]" + key + "[`.\\[]").Match(doc) {
			t.Errorf("field run.%s is not in docs/output.md's rows about run", key)
		}
	}
}
