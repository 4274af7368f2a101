package jobs_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
)

// FuzzPlanReport decodes fuzzed JSON as a stored plan (the PlanReport a
// run keeps in runs.detail, docs/plan-json.md) and checks that, when it
// decodes:
//
//   - it encodes again as the store writes it, and that JSON decodes to
//     the same report (a stable round trip);
//   - every plan view (text, markdown, json) renders it without a panic
//     or an error, in valid UTF-8;
//   - the text starts with its heading; the markdown of a plan or an
//     apply stays within views.MaxMarkdownBytes, and no table row is
//     broken across lines;
//   - the json view writes an array of the one report, unchanged.
//
// Seeds are the plan reports of internal/views/testdata and
// docs/plan-json.md, and handcrafted edge cases; crashers go to
// testdata/fuzz/FuzzPlanReport.
func FuzzPlanReport(f *testing.F) {
	for _, path := range []string{
		"../internal/views/testdata/plan.json.golden",
		"../internal/views/testdata/apply.json.golden",
		"../internal/views/testdata/plan-none.json.golden",
	} {
		addReports(f, path, readFile(f, path))
	}
	doc := string(readFile(f, "../docs/plan-json.md"))
	_, block, ok := strings.Cut(doc, "```json\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok || block == "" {
		f.Fatal("docs/plan-json.md: no JSON example")
	}
	addReports(f, "docs/plan-json.md", []byte(block))
	sample := `{"customer": "c", "segmentation": "lifecycle", "from": "active", "to": "churned", "reason": "matched"}`
	for _, s := range []string{
		`{}`,
		`null`,
		`{"mode": "apply", "status": "succeeded", "ruleset": "r", "customers": 1, "changed": 1}`,
		`{"mode": "plan", "customers": -9223372036854775808, "changed": 9223372036854775807, "actions_total": -1,
		  "segmentations": [{"name": "s", "moved": -5, "segments": [{"name": "a", "before": -9223372036854775808, "after": 9223372036854775807}],
		  "moves": [{"from": "", "to": "", "count": -1}]}]}`,
		`{"mode": "plan", "ruleset": "a|b", "ruleset_label": "<b>\n|x|\r", "as_of": "0001-01-01T00:00:00Z",
		  "segmentations": [{"name": "s|1", "label": "客户\u200b\u0301", "segments": [{"name": "` + "`x`" + `", "label": "\t"}]}],
		  "errors": {"customers": 2, "by_rule": {"a|b": 1, "": 2}, "examples": [{"customer": "c\r1", "rule": "r", "message": "m\nn"}]},
		  "samples": [{"customer": "c|1", "segmentation": "s", "from": "", "to": "t", "reason": "\u0000"}]}`,
		`{"mode": "plan", "as_of": "9999-12-31T23:59:59.999999999+14:00", "initial": true, "samples": [{"customer": "c"}]}`,
		`{"mode": "plan", "as_of": "2024-07-01T00:00:00-23:59"}`,
		`{"mode": "apply", "guard": {"blocked": true, "error_rate_exceeded": true, "reasons": ["` + strings.Repeat("long reason ", 300) + `"]}}`,
		`{"mode": "plan", "changed": 1, "samples": [` + strings.Repeat(sample+",", 60) + sample + `]}`,
		`{"mode": "plan", "actions": [{"name": "a", "label": "a", "count": 1}, {"name": "` + strings.Repeat("é", 40) + `"}], "actions_total": 1}`,
		`{"format_version": 99, "mode": "other", "unknown_field": [1, 2, 3]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r jobs.PlanReport
		if json.Unmarshal(data, &r) != nil {
			return
		}
		stored, err := json.Marshal(&r)
		if err != nil {
			t.Fatalf("a decoded report does not encode: %v", err)
		}
		var again jobs.PlanReport
		if err := json.Unmarshal(stored, &again); err != nil {
			t.Fatalf("the stored JSON does not decode: %v\n%s", err, stored)
		}
		if b, _ := json.Marshal(&again); !bytes.Equal(b, stored) {
			t.Fatalf("the round trip changes the report:\n%s\n%s", stored, b)
		}
		_ = r.HasChanges()

		text := render(t, "text", &r)
		if !strings.HasPrefix(text, "Plan for rule set ") && !strings.HasPrefix(text, "Apply for rule set ") {
			t.Fatalf("the text does not start with its heading:\n%s", text)
		}
		checkMarkdown(t, &r, render(t, "markdown", &r))
		var out []jobs.PlanReport
		if err := json.Unmarshal([]byte(render(t, "json", &r)), &out); err != nil || len(out) != 1 {
			t.Fatalf("the json view writes %d reports: %v", len(out), err)
		}
		if b, _ := json.Marshal(&out[0]); !bytes.Equal(b, stored) {
			t.Fatalf("the json view changes the report:\n%s\n%s", stored, b)
		}
	})
}

// render renders r with the plan view for format.
func render(t *testing.T, format string, r *jobs.PlanReport) string {
	t.Helper()
	var b bytes.Buffer
	v, err := views.NewPlan(format, &b)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Report(r); err != nil {
		t.Fatalf("%s: Report: %v", format, err)
	}
	if err := v.Close(); err != nil {
		t.Fatalf("%s: Close: %v", format, err)
	}
	if !utf8.Valid(b.Bytes()) {
		t.Fatalf("%s: the output is not UTF-8:\n%q", format, b.String())
	}
	return b.String()
}

// checkMarkdown checks the size of a plan's markdown, and that every
// table row is one line.
func checkMarkdown(t *testing.T, r *jobs.PlanReport, out string) {
	t.Helper()
	if (r.Mode == "plan" || r.Mode == "apply") && len(out) > views.MaxMarkdownBytes {
		t.Fatalf("the markdown has %d bytes, over the %d it is cut to", len(out), views.MaxMarkdownBytes)
	}
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		if !strings.HasSuffix(line, "|") {
			t.Fatalf("a table row is broken across lines: %q", line)
		}
		if strings.ContainsRune(line, '\r') {
			// Markdown ends a line at a carriage return too.
			t.Fatalf("a table row holds a carriage return: %q", line)
		}
	}
}

// addReports adds each report of a JSON array as a seed, and the array.
func addReports(f *testing.F, name string, data []byte) {
	var reports []json.RawMessage
	if err := json.Unmarshal(data, &reports); err != nil {
		f.Fatalf("%s: %v", name, err)
	}
	for _, r := range reports {
		f.Add([]byte(r))
	}
	f.Add(data)
}

func readFile(f *testing.F, path string) []byte {
	data, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		f.Fatal(err)
	}
	return data
}
