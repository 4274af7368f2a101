package rules_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tierflow/tierflow/rules"
)

// ruleSet returns a small valid rule file called name.
func ruleSet(name string) string {
	return "ruleset: " + name + "\nfacts:\n  spend: number\nsegmentations:\n  - name: tier\n    segments:\n      - {name: gold, when: spend >= 100}\n      - {name: basic, fallback: true}\n"
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestLoadDirectory(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"rules/a.yaml":                    file(ruleSet("alpha")),
		"rules/a_test.yaml":               file("ruleset: alpha\ntests:\n  - {name: big, as_of: 2024-01-01, facts: {spend: 500}, expect: {segments: {tier: gold}}}\n"),
		"rules/sub/deep/b.yml":            file(ruleSet("beta")),
		"rules/sub/c.yaml":                file("\xef\xbb\xbf" + ruleSet("gamma")),
		"rules/ci.yaml":                   file("name: CI\non: push\njobs: {}\n"),
		"rules/notes.txt":                 file(ruleSet("not_yaml")),
		"rules/.github/workflow.yaml":     file(ruleSet("hidden")),
		"rules/sub/nested_ruleset.yaml":   file("config:\n  ruleset: nested\n"),
		"rules/orphan_test.yaml":          file("ruleset: orphan\ntests: []\n"),
		"elsewhere/ignored.yaml":          file(ruleSet("ignored")),
		"rules/sub/deep/b_test.yml":       file("tests:\n  - {name: small, as_of: 2024-01-01, expect: {segments: {tier: basic}}}\n  - {name: big, as_of: 2024-01-01, facts: {spend: 100}, expect: {segments: {tier: gold}}}\n"),
		"rules/sub/deep/unrelated.md":     file("# notes"),
		"rules/sub/deep/more/empty.yaml":  file(""),
		"rules/sub/deep/more/ruleset.txt": file("ruleset: x"),
	}
	loaded := rules.Load(fsys, []string{"rules"}, rules.Options{})
	if err := loaded.Err(); err != nil {
		t.Fatalf("Load: %v", err)
	}
	var got []string
	for _, rs := range loaded.RuleSets {
		got = append(got, fmt.Sprintf("%s@%s#%d", rs.Name, rs.File, len(rs.Tests)))
	}
	want := []string{"alpha@rules/a.yaml#1", "gamma@rules/sub/c.yaml#0", "beta@rules/sub/deep/b.yml#2"}
	if !slices.Equal(got, want) {
		t.Errorf("rule sets = %v, want %v", got, want)
	}
	if len(loaded.Diagnostics) != 0 {
		t.Errorf("diagnostics: %v", loaded.Diagnostics)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fsys  fstest.MapFS
		paths []string
		want  []string // each diagnostic's String(), first line
		sets  int
	}{
		{
			name: "duplicate rule set names",
			fsys: fstest.MapFS{
				"r/one.yaml":       file(ruleSet("shop")),
				"r/two/again.yaml": file(ruleSet("shop")),
			},
			paths: []string{"r"},
			want:  []string{`r/two/again.yaml:1: ruleset: rule set "shop" is also defined in r/one.yaml (give each rule set its own name)`},
			sets:  1,
		},
		{
			name: "duplicates across paths",
			fsys: fstest.MapFS{
				"a.yaml": file(ruleSet("shop")),
				"b.yaml": file(ruleSet("shop")),
			},
			paths: []string{"a.yaml", "b.yaml"},
			want:  []string{`b.yaml:1: ruleset: rule set "shop" is also defined in a.yaml (give each rule set its own name)`},
			sets:  1,
		},
		{
			name:  "file named explicitly is compiled even without ruleset",
			fsys:  fstest.MapFS{"ci.yaml": file("name: CI\n")},
			paths: []string{"ci.yaml"},
			want: []string{
				`ci.yaml:1:1: name: unknown key "name" (expected one of: actions, churn, derived, description, facts, key, label, limits, on_missing, params, ruleset, schedule, segmentations, tests, timezone, transactions)`,
				`ci.yaml:1:1: ruleset: "ruleset" is required (start the file with `,
				`ci.yaml:1:1: facts: no facts schema (declare the fields`,
				`ci.yaml:1:1: segmentations: "segmentations" is required (add at least one segmentation with its segments)`,
			},
		},
		{
			name:  "directory without rule files",
			fsys:  fstest.MapFS{"r/ci.yaml": file("name: CI\n")},
			paths: []string{"r"},
			want:  []string{"r: no rule files (YAML files with a top-level `ruleset:` key) under r"},
		},
		{
			name:  "missing path",
			fsys:  fstest.MapFS{},
			paths: []string{"nope"},
			want:  []string{"nope: cannot read rules: open nope: file does not exist"},
		},
		{
			name: "errors in the sibling test file carry its name",
			fsys: fstest.MapFS{
				"r/shop.yaml":      file(ruleSet("shop")),
				"r/shop_test.yaml": file("tests:\n  - {name: x, as_of: 2024-01-01, expect: {segments: {tier: platinum}}}\n"),
			},
			paths: []string{"r"},
			want:  []string{`r/shop_test.yaml:2:60: tests["x"].expect.segments.tier: segmentation "tier" has no segment "platinum" (expected one of: basic, gold)`},
		},
		{
			name: "a broken file does not stop the others",
			fsys: fstest.MapFS{
				"r/a.yaml": file("ruleset: a\nsegmentations: []\n"),
				"r/b.yaml": file(ruleSet("b")),
			},
			paths: []string{"r"},
			want:  []string{`r/a.yaml:1:1: facts: no facts schema`},
			sets:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			loaded := rules.Load(tt.fsys, tt.paths, rules.Options{})
			var got []string
			for _, d := range loaded.Diagnostics {
				got = append(got, d.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("diagnostics:\n%s\nwant %d", strings.Join(got, "\n"), len(tt.want))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("diagnostic %d:\n%s\nwant it to start with:\n%s", i, got[i], tt.want[i])
				}
			}
			if len(loaded.RuleSets) != tt.sets {
				t.Errorf("%d rule sets, want %d", len(loaded.RuleSets), tt.sets)
			}
			if loaded.Err() == nil {
				t.Errorf("Err() = nil, want the errors")
			}
		})
	}
}

// TestLoadFiles loads from the operating system, with relative and
// absolute paths.
func TestLoadFiles(t *testing.T) {
	t.Parallel()
	loaded := rules.LoadFiles([]string{"../examples/retail"}, rules.Options{})
	if err := loaded.Err(); err != nil {
		t.Fatal(err)
	}
	if len(loaded.RuleSets) != 2 || loaded.RuleSets[0].Name != "retail" || len(loaded.RuleSets[0].Tests) != 19 || loaded.RuleSets[1].Name != "retail_orders" {
		t.Fatalf("loaded %+v", loaded.RuleSets)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(path, []byte(ruleSet("shop")), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded = rules.LoadFiles([]string{dir}, rules.Options{})
	if err := loaded.Err(); err != nil || len(loaded.RuleSets) != 1 || loaded.RuleSets[0].File != path {
		t.Fatalf("LoadFiles(%s) = %+v, %v", dir, loaded.RuleSets, err)
	}
}

func TestTestFileFor(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"retail.yaml":             "retail_test.yaml",
		"rules/retail.yml":        "rules/retail_test.yml",
		"a.b/shop.yaml":           "a.b/shop_test.yaml",
		"retail_test.yaml":        "",
		"rules/x_test.yml":        "",
		"test.yaml":               "test_test.yaml",
		"rules/latest_tests.yaml": "rules/latest_tests_test.yaml",
	}
	for in, want := range tests {
		if got := rules.TestFileFor(in); got != want {
			t.Errorf("TestFileFor(%q) = %q, want %q", in, got, want)
		}
	}
}
