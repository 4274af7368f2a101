package rules_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/errors")

// TestErrorsGolden compiles every broken rule file in testdata/errors and
// compares the rendered diagnostics, caret snippets included, with the
// .golden file beside it. A file NAME_test.yaml is compiled as the test
// cases of NAME.yaml, as rules.Load does. Run with -update to rewrite the
// goldens, then read the diff.
func TestErrorsGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in testdata/errors")
	}
	goldens, err := filepath.Glob(filepath.Join("testdata", "errors", "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldens {
		if _, err := os.Stat(strings.TrimSuffix(g, ".golden") + ".yaml"); err != nil {
			t.Errorf("%s has no rule file beside it; remove it", g)
		}
	}
	for _, path := range files {
		if rules.TestFileFor(path) == "" {
			continue // a sibling test file, compiled with its rule file
		}
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := renderErrors(t, path)
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./rules/ -run TestErrorsGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s (run with -update and review the diff)\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

// renderErrors compiles the rule file at path, which must fail, and
// returns its diagnostics as a user sees them.
func renderErrors(t *testing.T, path string) string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var opts rules.Options
	if tf := rules.TestFileFor(path); tf != "" {
		if tsrc, err := os.ReadFile(tf); err == nil {
			opts.Tests = &rules.TestSource{File: filepath.Base(tf), Src: tsrc}
		}
	}
	rs, err := rules.Compile(filepath.Base(path), src, opts)
	if err == nil {
		t.Fatalf("compiled without errors into rule set %q; files in testdata/errors must fail", rs.Name)
	}
	if rs != nil {
		t.Errorf("Compile returned a rule set and an error")
	}
	var list rules.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, not rules.ErrorList: %v", err, err)
	}
	errorCount := 0
	for _, d := range list {
		if d.Severity == rules.SeverityError {
			errorCount++
		}
		if d.Pos.File == "" {
			t.Errorf("diagnostic without a file: %s", d)
		}
	}
	if errorCount == 0 {
		t.Errorf("ErrorList holds no error, only warnings:\n%s", list)
	}
	return list.Error() + "\n"
}
