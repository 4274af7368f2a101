package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// explain --facts in every format: the JSON is one snake_case document
// with format_version, --json is its deprecated alias, and markdown has a
// table per segmentation.
func TestExplainFormats(t *testing.T) {
	t.Parallel()
	args := []string{"explain", "--facts", "testdata/customers.yaml", retailRules}
	text := runCLI(t, nil, args...).want(t, exitOK)
	if again := runCLI(t, nil, append(args, "--format", "text")...).want(t, exitOK); again.stdout != text.stdout {
		t.Errorf("--format text differs from the default:\n%s", again.stdout)
	}

	r := runCLI(t, nil, append(args, "--format", "json")...).want(t, exitOK)
	var doc struct {
		FormatVersion int `json:"format_version"`
		Explanations  []struct {
			RuleSet       string `json:"ruleset"`
			Customer      string `json:"customer"`
			AsOf          string `json:"as_of"`
			Segmentations []struct {
				Name     string `json:"name"`
				Decision struct {
					Segment string `json:"segment"`
					Changed bool   `json:"changed"`
					Reason  string `json:"reason"`
				} `json:"decision"`
			} `json:"segmentations"`
			Actions []struct {
				Name    string `json:"name"`
				Outcome string `json:"outcome"`
			} `json:"actions"`
		} `json:"explanations"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("explain --format json: %v\n%s", err, r.stdout)
	}
	if doc.FormatVersion != 1 || len(doc.Explanations) != 2 {
		t.Fatalf("explain --format json: format_version %d, %d explanations:\n%s", doc.FormatVersion, len(doc.Explanations), r.stdout)
	}
	first := doc.Explanations[0]
	if first.Customer != "42" || first.RuleSet != "retail" || !strings.HasPrefix(first.AsOf, "2024-07-01") ||
		first.Segmentations[1].Name != "lifecycle" || first.Segmentations[1].Decision.Segment != "at_risk" ||
		!first.Segmentations[1].Decision.Changed || first.Segmentations[1].Decision.Reason != "matched" ||
		first.Actions[0].Name != "winback_call" || first.Actions[0].Outcome != "fired" {
		t.Errorf("explain --format json, customer 42: %+v", first)
	}
	for _, goName := range []string{`"Key"`, `"AsOf"`, `"Segmentations"`, `"Tried"`, `"Outcome"`} {
		if strings.Contains(r.stdout, goName) {
			t.Errorf("explain --format json prints the Go field name %s", goName)
		}
	}
	if legacy := runCLI(t, nil, append(args, "--json")...).want(t, exitOK); legacy.stdout != r.stdout {
		t.Errorf("explain --json differs from --format json:\n%s", legacy.stdout)
	}

	r = runCLI(t, nil, append(args, "--format", "markdown", "--customer", "42")...).want(t, exitOK)
	for _, want := range []string{"### Customer 42, rule set 零售客户分群 (`retail`), as of 2024-07-01", "#### 生命周期 (`lifecycle`): active → at_risk",
		"| # | segment | outcome | condition | facts read |", "| winback_call | fired | due 2024-07-02"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain --format markdown lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "Customer 7") {
		t.Errorf("explain --customer 42 --format markdown shows customer 7:\n%s", r.stdout)
	}
}

// plan --facts (no database) prints JSON and markdown too; before the
// formats were unified, a plan without --baseline printed text for both.
func TestPlanFactsFormats(t *testing.T) {
	t.Parallel()
	facts := filepath.Join(t.TempDir(), "facts.csv")
	runCommand(t, runGen, nil, "--customers", "300", "--as-of", "2024-07-01", "--out", facts).want(t, exitOK)
	args := []string{"plan", "--facts", facts, "--as-of", "2024-07-01", "--quiet", retailRules}

	r := runCLI(t, nil, append(args, "--format", "json")...).want(t, exitOK)
	var reports []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil || len(reports) != 1 ||
		reports[0]["format_version"] != 1.0 || reports[0]["mode"] != "plan" || reports[0]["customers"] != 300.0 {
		t.Errorf("plan --facts --format json: %v\n%s", err, r.stdout)
	}
	r = runCLI(t, nil, append(args, "--format", "markdown")...).want(t, exitOK)
	if !strings.HasPrefix(r.stdout, "### tierflow plan: 零售客户分群 (`retail`)") || !strings.Contains(r.stdout, "| segment | before | after | change |") {
		t.Errorf("plan --facts --format markdown:\n%s", r.stdout)
	}
}

// An unknown --format fails before any work, naming the formats the
// command has.
func TestFormatErrors(t *testing.T) {
	t.Parallel()
	const reports, tables = "use text, json or markdown", "use text, json, markdown or csv"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"explain", "--facts", "testdata/customers.yaml", "--format", "yaml", retailRules}, `explain: --format "yaml": ` + reports},
		{[]string{"explain", "--facts", "testdata/customers.yaml", "--format", "csv", retailRules}, `explain: --format "csv": ` + reports},
		{[]string{"explain", "--facts", "testdata/customers.yaml", "--json", "--format", "markdown", retailRules}, "--json is --format json"},
		{[]string{"plan", "--format", "yaml"}, `plan: --format "yaml": ` + reports},
		{[]string{"plan", "--facts", "facts.csv", "--format", "html", retailRules}, `plan: --format "html": ` + reports},
		{[]string{"apply", "--format", "csv"}, `apply: --format "csv": ` + reports},
		{[]string{"runs", "--format", "yaml"}, `runs: --format "yaml": ` + tables},
		{[]string{"history", "--customer", "42", "--format", "xml"}, `history: --format "xml": ` + tables},
		{[]string{"actions", "list", "--format", "yaml"}, `actions: --format "yaml": ` + tables},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			// No config or database exists here: the format is checked first.
			r := runCLI(t, nil, append(tc.args, "--config", filepath.Join(t.TempDir(), "none.yaml"))...).want(t, exitFailure)
			if !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("stderr %q, want %q; stdout %q", r.stderr, tc.want, r.stdout)
			}
		})
	}
}

// Every printing command documents --format, and --json as deprecated.
func TestFormatHelp(t *testing.T) {
	t.Parallel()
	for _, cmd := range [][]string{{"plan"}, {"apply"}, {"explain"}, {"runs"}, {"history"}, {"actions", "list"}} {
		r := runCLI(t, nil, append(cmd, "--help")...).want(t, exitOK)
		if !strings.Contains(r.stdout, "-format format") || !strings.Contains(r.stdout, "deprecated: the same as --format json") {
			t.Errorf("%s --help does not document --format and --json:\n%s", cmd[0], r.stdout)
		}
	}
}
