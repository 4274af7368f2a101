package views

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

// ansiRE matches an ANSI SGR escape code.
var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

// movesFixture moves customers up, down, out of and into a segmentation
// whose segments rank vip, key, small.
func movesFixture() *jobs.PlanReport {
	return &jobs.PlanReport{Mode: "plan", RuleSet: "retail", AsOf: asOf, Customers: 40, Changed: 16,
		Segmentations: []jobs.SegmentationReport{{Name: "value_tier", Moved: 16,
			Segments: []jobs.SegmentReport{{Name: "vip", Before: 10, After: 12}, {Name: "key", Before: 10, After: 9}, {Name: "small", Before: 20, After: 19}},
			Moves: []jobs.MoveReport{{From: "key", To: "vip", Count: 5}, {From: "vip", To: "small", Count: 3},
				{From: "key", To: "", Count: 2}, {From: "", To: "small", Count: 4}, {From: "(removed)", To: "key", Count: 1}},
		}},
		Samples: []jobs.SampleReport{{Customer: "7", Segmentation: "value_tier", From: "vip", To: "small", Reason: "matched"}},
		Quality: &jobs.QualityReport{Warnings: []string{"the newest last_order_at is 400 days before the as-of"}},
	}
}

func renderPlan(t *testing.T, format string, w *bytes.Buffer, st Style, r *jobs.PlanReport) string {
	t.Helper()
	v, err := NewPlan(format, WithStyle(w, st))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Report(r); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	return w.String()
}

// TestPlanColour: with colour, a move up the segments' order is green, a
// move down red, a move out of the segmentation yellow, a first
// segment plain; the warning is yellow; and without the escape codes
// the text is exactly the uncoloured text.
func TestPlanColour(t *testing.T) {
	r := movesFixture()
	got := renderPlan(t, "text", &bytes.Buffer{}, Colour, r)
	for _, want := range []string{
		"    \x1b[32mkey -> vip  5\x1b[0m\n",
		"    \x1b[31mvip -> small  3\x1b[0m\n",
		"    \x1b[33mkey -> (none)  2\x1b[0m\n",
		"    (none) -> small  4\n",
		"    \x1b[32m(removed) -> key  1\x1b[0m\n",
		"  customer 7: value_tier \x1b[31mvip -> small\x1b[0m (matched)\n",
		"  \x1b[33mWARNING:\x1b[0m the newest last_order_at",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("coloured plan lacks %q:\n%s", want, got)
		}
	}
	plain := renderPlan(t, "text", &bytes.Buffer{}, Style{}, r)
	if strings.Contains(plain, "\x1b") {
		t.Errorf("uncoloured plan has escape codes:\n%q", plain)
	}
	if stripped := ansiRE.ReplaceAllString(got, ""); stripped != plain {
		t.Errorf("the coloured plan is not the plain one with colour added:\n--- stripped\n%s\n--- plain\n%s", stripped, plain)
	}
}

// TestColourOnlyForText: every output, in every format, rendered to a
// writer that asks for colour, is byte for byte what it is without
// colour (the golden files) once its escape codes are removed; and
// JSON, CSV and markdown have none at all.
func TestColourOnlyForText(t *testing.T) {
	for _, o := range outputs() {
		for _, f := range o.formats {
			var plain, coloured bytes.Buffer
			if err := o.render(string(f), &plain); err != nil {
				t.Fatal(err)
			}
			if err := o.render(string(f), WithStyle(&coloured, Colour)); err != nil {
				t.Fatal(err)
			}
			if f != Text && coloured.String() != plain.String() {
				t.Errorf("%s as %s differs when colour is asked for:\n%q", o.name, f, coloured.String())
			}
			if stripped := ansiRE.ReplaceAllString(coloured.String(), ""); stripped != plain.String() {
				t.Errorf("%s as %s: colour changed more than escape codes:\n%s", o.name, f, stripped)
			}
		}
	}
	if got := renderPlan(t, "text", &bytes.Buffer{}, Colour, planFixture()); !strings.Contains(got, "\x1b[") {
		t.Error("the plan fixture's moves are not coloured")
	}
}

func TestErrorText(t *testing.T) {
	for _, c := range []struct{ msg, plain, coloured string }{
		{"plan: no table runs (run `tierflow migrate` first)", "tierflow: plan: no table runs (run `tierflow migrate` first)",
			"\x1b[1m\x1b[31mtierflow:\x1b[0m plan: no table runs \x1b[36m(run `tierflow migrate` first)\x1b[0m"},
		{"check: a.yaml:3:9: unknown function days(x)", "tierflow: check: a.yaml:3:9: unknown function days(x)",
			"\x1b[1m\x1b[31mtierflow:\x1b[0m check: a.yaml:3:9: unknown function days(x)"},
		{"x (a (b) c)\n  3 | when: f(x)", "tierflow: x (a (b) c)\n  3 | when: f(x)",
			"\x1b[1m\x1b[31mtierflow:\x1b[0m x \x1b[36m(a (b) c)\x1b[0m\n  3 | when: f(x)"},
	} {
		if got := (Style{}).ErrorText("tierflow:", c.msg); got != c.plain {
			t.Errorf("ErrorText(%q) = %q, want %q", c.msg, got, c.plain)
		}
		if got := Colour.ErrorText("tierflow:", c.msg); got != c.coloured {
			t.Errorf("coloured ErrorText(%q) = %q, want %q", c.msg, got, c.coloured)
		}
	}
}

func TestMoveDirection(t *testing.T) {
	segs := []string{"vip", "key", "small"}
	for _, c := range []struct{ from, to, want string }{
		{"key", "vip", moveUp}, {"small", "key", moveUp}, {"vip", "small", moveDown}, {"key", "small", moveDown},
		{"", "vip", moveIn}, {"vip", "", moveOut}, {"gone", "small", moveUp}, {"small", "gone", moveDown},
	} {
		if got := moveDirection(segs, c.from, c.to); got != c.want {
			t.Errorf("%s -> %s: %s, want %s", c.from, c.to, got, c.want)
		}
	}
}
