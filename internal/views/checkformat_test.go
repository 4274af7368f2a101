package views

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// Workflow-command messages escape %, CR and LF; properties also escape
// : and , so that a path or title cannot end the property list early.
func TestGitHubCommandEscapes(t *testing.T) {
	d := rules.Diagnostic{
		Pos:     rules.Pos{File: "rules/a,b:c.yaml", Line: 3, Col: 7},
		Field:   "params.x",
		Message: "100% wrong\r\nsecond line: with, commas",
		Hint:    "fix it",
	}
	got := githubCommand("", d)
	want := "::error file=rules/a%2Cb%3Ac.yaml,line=3,col=7,title=params.x::100%25 wrong%0D%0Asecond line: with, commas (fix it)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	d.Severity, d.Pos, d.Field = rules.SeverityWarning, rules.Pos{File: "a.yaml"}, "a:b,c"
	got = githubCommand("", d)
	if !strings.HasPrefix(got, "::warning file=a.yaml,title=a%3Ab%2Cc::") {
		t.Errorf("a warning without a line: %s", got)
	}
}

// Every error and warning the rule loader's golden files show gets a
// kind of its own severity; the catch-all kinds stay rare, so that code
// scanning groups problems usefully.
func TestDiagnosticKinds(t *testing.T) {
	goldens, err := filepath.Glob("../../rules/testdata/errors/*.golden")
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	head := regexp.MustCompile(`^\S+\.yaml:\d+(?::\d+)?: (warning: )?(?:([a-z_\[\]".0-9 A-Z-]+): )?(.*)$`)
	total, fallback := 0, 0
	for _, g := range goldens {
		src, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(src), "\n") {
			m := head.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			d := rules.Diagnostic{Field: m[2], Message: m[3]}
			if m[1] != "" {
				d.Severity = rules.SeverityWarning
			}
			k := kindOf(d)
			if k.Warning != (d.Severity == rules.SeverityWarning) {
				t.Errorf("%s: kind %s has the wrong severity", line, k.ID)
			}
			total++
			if k.ID == "invalid-value" || k.ID == "warning" {
				fallback++
			}
		}
	}
	t.Logf("%d of %d diagnostics in a catch-all kind", fallback, total)
	if total < 50 || fallback*3 > total {
		t.Errorf("%d of %d diagnostics fell to a catch-all kind", fallback, total)
	}
	when := "segmentations.tier.segments.gold.when"
	for _, tt := range []struct{ field, msg, want string }{
		{"", `YAML syntax: did not find expected key`, "yaml"},
		{"segmentations.a", `segmentations depend on each other in a cycle: a -> b -> a`, "cycle"},
		{when, `unknown name "spnd"`, "unknown-name"},
		{"segmentations.tier.segments.gold.name", `segment "gold" is defined twice in tier`, "duplicate"},
		{"segmentations.tier.segments.key.min_stay", `"2 weeks" is not a duration`, "invalid-value"},
		{when, `a condition must be true or false, but this is a number`, "expression"},
		{when, `this condition could take up to 1,023,995 steps per customer`, "cost"},
		{`tests["x"].expect.actions[1].thanks`, `unknown action "thanks"`, "test-case"},
	} {
		if got := kindOf(rules.Diagnostic{Field: tt.field, Message: tt.msg}).ID; got != tt.want {
			t.Errorf("%s: %s: kind %s, want %s", tt.field, tt.msg, got, tt.want)
		}
	}
}

// WriteCheck refuses the formats it does not render.
func TestWriteCheckFormats(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCheck(Markdown, &b, &CheckRun{}); err == nil || !strings.Contains(err.Error(), "use text, json, sarif or github") {
		t.Errorf("markdown: %v", err)
	}
	if err := WriteTests(SARIF, &b, &TestRun{}); err == nil || !strings.Contains(err.Error(), "use text, json or junit") {
		t.Errorf("sarif for tests: %v", err)
	}
}
