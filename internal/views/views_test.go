package views

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// output is one thing a command prints, rendered in a given format.
type output struct {
	name    string
	formats []Format
	render  func(format string, w io.Writer) error
}

func planOutput(name string, steps func(Plan) error) output {
	return output{name, reportFormats, func(format string, w io.Writer) error {
		v, err := NewPlan(format, w)
		if err != nil {
			return err
		}
		if err := steps(v); err != nil {
			return err
		}
		return v.Close()
	}}
}

func tableOutput(name string, call func(Table) error) output {
	return output{name, tableFormats, func(format string, w io.Writer) error {
		v, err := NewTable(format, w)
		if err != nil {
			return err
		}
		return call(v)
	}}
}

func qualityOutput(name string, call func(Quality) error) output {
	return output{name, tableFormats, func(format string, w io.Writer) error {
		v, err := NewQuality(format, w)
		if err != nil {
			return err
		}
		if err := call(v); err != nil {
			return err
		}
		return v.Close()
	}}
}

// outputs are every kind of output, from the fixed values of
// fixtures_test.go.
func outputs() []output {
	return []output{
		planOutput("plan", func(v Plan) error {
			if err := v.Report(planFixture()); err != nil {
				return err
			}
			return v.Report(unchangedFixture())
		}),
		planOutput("apply", func(v Plan) error {
			if err := v.Report(applyFixture()); err != nil {
				return err
			}
			return v.Applied("retail", 12)
		}),
		planOutput("plan-none", func(Plan) error { return nil }),
		planOutput("plan-quality", func(v Plan) error { return v.Report(qualityPlanFixture()) }),
		planOutput("apply-quality", func(v Plan) error {
			if err := v.Report(qualityAllowedFixture()); err != nil {
				return err
			}
			return v.Applied("retail", 13)
		}),
		planOutput("apply-follow-ups", func(v Plan) error {
			if err := v.Report(followUpFixture()); err != nil {
				return err
			}
			return v.Applied("retail", 14)
		}),
		planOutput("diff", func(v Plan) error { return v.Diff(diffFixture()) }),
		{"explain", reportFormats, func(format string, w io.Writer) error {
			v, err := NewExplain(format, w)
			if err != nil {
				return err
			}
			for _, tr := range traceFixtures() {
				if err := v.Trace(retail, tr); err != nil {
					return err
				}
			}
			return v.Close()
		}},
		tableOutput("runs", func(v Table) error { return v.Runs(runsFixture(), nil) }),
		tableOutput("runs-segments", func(v Table) error { return v.Runs(runsFixture(), runSegmentsFixture()) }),
		tableOutput("runs-none", func(v Table) error { return v.Runs(nil, nil) }),
		tableOutput("history", func(v Table) error { return v.History("42", historyFixture()) }),
		tableOutput("history-none", func(v Table) error { return v.History("404", nil) }),
		tableOutput("actions", func(v Table) error { return v.Actions(actionsFixture()) }),
		tableOutput("actions-none", func(v Table) error { return v.Actions(nil) }),
		tableOutput("coverage", func(v Table) error { return v.Coverage(coverageFixture()) }),
		tableOutput("coverage-none", func(v Table) error { return v.Coverage(coverageFixture()[1:]) }),
		tableOutput("effects", func(v Table) error { return v.Effects(effectsFixture()) }),
		tableOutput("effects-none", func(v Table) error { return v.Effects(emptyEffectsFixture()) }),
		tableOutput("sizes", func(v Table) error { return v.Sizes(sizesFixture()) }),
		tableOutput("sizes-none", func(v Table) error { return v.Sizes(nil) }),
		{"classreport", []Format{JSON}, func(_ string, w io.Writer) error { return ClassReportJSON(w, classReportFixture()) }},
		qualityOutput("check-data", func(v Quality) error {
			if err := v.Report("retail", "零售客户分群", asOf, qualityFixture()); err != nil {
				return err
			}
			if err := v.Report("b2b", "", asOf, &jobs.QualityReport{Sources: []jobs.SourceQuality{{Name: "primary", Rows: 5, Customers: 5, OnDuplicate: "error"}},
				Facts: []jobs.FactQuality{}, Checks: []jobs.CheckResult{}}); err != nil {
				return err
			}
			return v.Failed("churn", "source primary: open exports/signals-*.csv: no file matches")
		}),
	}
}

func render(t *testing.T, o output, f Format) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := o.render(string(f), &b); err != nil {
		t.Fatalf("%s as %s: %v", o.name, f, err)
	}
	return b.Bytes()
}

// TestGolden compares every output in every format with
// testdata/NAME.FORMAT.golden; go test -update rewrites them.
func TestGolden(t *testing.T) {
	for _, o := range outputs() {
		for _, f := range o.formats {
			t.Run(o.name+"."+string(f), func(t *testing.T) {
				got := render(t, o, f)
				path := filepath.Join("testdata", o.name+"."+string(f)+".golden")
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
}

// dataKeys hold values whose keys are data, not field names: rule paths
// (by_rule), action payloads and fact values.
var dataKeys = map[string]bool{"by_rule": true, "errors_by_rule": true, "payload": true, "value": true}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// TestJSONShape: every JSON output is one document whose objects at the
// top carry format_version, and whose every field name is snake_case.
func TestJSONShape(t *testing.T) {
	for _, o := range outputs() {
		t.Run(o.name, func(t *testing.T) {
			out := render(t, o, JSON)
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.UseNumber()
			var doc any
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if dec.More() {
				t.Fatalf("more than one JSON document:\n%s", out)
			}
			tops := []any{doc}
			if list, ok := doc.([]any); ok {
				// plan, apply and diff keep their documented array of
				// reports, each with its format_version.
				if !strings.HasPrefix(o.name, "plan") && !strings.HasPrefix(o.name, "apply") && o.name != "diff" {
					t.Fatalf("an array at the top: only plan, apply and diff print one")
				}
				tops = list
			}
			for _, top := range tops {
				obj, ok := top.(map[string]any)
				if !ok {
					t.Fatalf("top-level value %T, want an object", top)
				}
				if v, ok := obj["format_version"].(json.Number); !ok || v.String() != "1" {
					t.Errorf("format_version = %v, want 1", obj["format_version"])
				}
			}
			walkKeys(t, "", doc)
		})
	}
}

func walkKeys(t *testing.T, path string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if !snakeCase.MatchString(k) {
				t.Errorf("%s: key %q is not snake_case", path, k)
			}
			if !dataKeys[k] {
				walkKeys(t, path+"."+k, child)
			}
		}
	case []any:
		for _, child := range x {
			walkKeys(t, path+"[]", child)
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(string) error
		want string
	}{
		{"plan", func(f string) error { _, err := NewPlan(f, io.Discard); return err }, `--format "yaml": use text, json or markdown`},
		{"explain", func(f string) error { _, err := NewExplain(f, io.Discard); return err }, `--format "yaml": use text, json or markdown`},
		{"table", func(f string) error { _, err := NewTable(f, io.Discard); return err }, `--format "yaml": use text, json, markdown or csv`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.make("yaml"); err == nil || err.Error() != tc.want {
				t.Errorf("--format yaml: %v, want %s", err, tc.want)
			}
			if err := tc.make("md"); err != nil {
				t.Errorf("--format md (markdown): %v", err)
			}
		})
	}
	if _, err := NewPlan("csv", io.Discard); err == nil || !strings.Contains(err.Error(), "use text, json or markdown") {
		t.Errorf("plan --format csv: %v, want an error naming the plan formats", err)
	}
}

// A markdown report stays under GitHub's comment limit, with a note when
// cut.
func TestMarkdownBudget(t *testing.T) {
	r := planFixture()
	seg := r.Segmentations[0]
	for range 400 {
		r.Segmentations = append(r.Segmentations, seg)
	}
	var b bytes.Buffer
	v, _ := NewPlan("markdown", &b)
	if err := v.Report(r); err != nil {
		t.Fatal(err)
	}
	if b.Len() > MaxMarkdownBytes {
		t.Errorf("markdown plan is %d bytes, over %d", b.Len(), MaxMarkdownBytes)
	}
	if !strings.Contains(b.String(), "_Report cut to stay under 60 KB; the full report is in `tierflow plan --format json`._") {
		t.Errorf("a cut report does not say so:\n%s", b.String()[b.Len()-300:])
	}
}

// JSON is written once, on Close: nothing before it, so that a failing
// command never leaves half a document.
func TestJSONWaitsForClose(t *testing.T) {
	var b bytes.Buffer
	v, _ := NewPlan("json", &b)
	if err := v.Report(planFixture()); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 0 {
		t.Fatalf("plan JSON written before Close:\n%s", b.String())
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	var reports []jobs.PlanReport
	if err := json.Unmarshal(b.Bytes(), &reports); err != nil || len(reports) != 1 || reports[0].Changed != 1420 {
		t.Errorf("plan JSON does not decode into []jobs.PlanReport: %v\n%s", err, b.String())
	}
}

// The CSV of each table has a header row and one row per record, and
// reads back with encoding/csv.
func TestCSVRows(t *testing.T) {
	var b bytes.Buffer
	v, _ := NewTable("csv", &b)
	if err := v.Actions(actionsFixture()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "id,ruleset,action,customer,") {
		t.Errorf("actions CSV:\n%s", b.String())
	}
}

// Every field explain, check --data, runs, history and actions list
// print in JSON is documented in docs/output.md, and every field of a
// plan report's quality in docs/plan-json.md.
func TestJSONFieldsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/output.md")
	if err != nil {
		t.Fatal(err)
	}
	planDoc, err := os.ReadFile("../../docs/plan-json.md")
	if err != nil {
		t.Fatal(err)
	}
	var reports []map[string]any
	if err := json.Unmarshal(render(t, planOutput("plan-quality", func(v Plan) error { return v.Report(qualityPlanFixture()) }), JSON), &reports); err != nil {
		t.Fatal(err)
	}
	var rows []string // the field table's rows about quality
	for _, line := range strings.Split(string(planDoc), "\n") {
		if strings.HasPrefix(line, "| `quality") {
			rows = append(rows, line)
		}
	}
	for key := range collectKeys(reports[0]["quality"], map[string]bool{}) {
		if !regexp.MustCompile("[`.]" + key + "[`.\\[]").MatchString(strings.Join(rows, "\n")) {
			t.Errorf("plan quality: field %q is not in docs/plan-json.md's rows about quality", key)
		}
	}
	// And every field of a plan report's actions and coverage, in their
	// rows.
	var followUps []map[string]any
	if err := json.Unmarshal(render(t, planOutput("apply-follow-ups", func(v Plan) error { return v.Report(followUpFixture()) }), JSON), &followUps); err != nil {
		t.Fatal(err)
	}
	for _, section := range []string{"actions", "coverage"} {
		var rows []string
		for _, line := range strings.Split(string(planDoc), "\n") {
			if strings.HasPrefix(line, "| `"+section) {
				rows = append(rows, line)
			}
		}
		for key := range collectKeys(followUps[0][section], map[string]bool{}) {
			if key != "name" && key != "label" && key != "count" && !regexp.MustCompile("[`.]"+key+"[`.\\[]").MatchString(strings.Join(rows, "\n")) {
				t.Errorf("plan %s: field %q is not in docs/plan-json.md's rows about %s", section, key, section)
			}
		}
	}
	for _, o := range outputs() {
		if strings.HasPrefix(o.name, "plan") || strings.HasPrefix(o.name, "apply") || o.name == "diff" {
			continue
		}
		var v any
		if err := json.Unmarshal(render(t, o, JSON), &v); err != nil {
			t.Fatal(err)
		}
		for key := range collectKeys(v, map[string]bool{}) {
			if !regexp.MustCompile("[`.]" + key + "[`.\\[]").Match(doc) {
				t.Errorf("%s: field %q is not in docs/output.md", o.name, key)
			}
		}
	}
}

func collectKeys(v any, into map[string]bool) map[string]bool {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			into[k] = true
			if !dataKeys[k] {
				collectKeys(child, into)
			}
		}
	case []any:
		for _, child := range x {
			collectKeys(child, into)
		}
	}
	return into
}
