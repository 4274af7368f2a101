package examples_test

import (
	"testing"

	"github.com/tierflow/tierflow/engine/ruletest"
	"github.com/tierflow/tierflow/examples"
	"github.com/tierflow/tierflow/rules"
)

// TestExamples: every example rule set compiles without warnings, and its
// test cases pass and match every segment and action at least once.
func TestExamples(t *testing.T) {
	loaded := rules.LoadFiles([]string{"."}, rules.Options{})
	if err := loaded.Err(); err != nil {
		t.Fatal(err)
	}
	for _, d := range loaded.Diagnostics {
		t.Errorf("warning: %s", d)
	}
	if len(loaded.RuleSets) < 3 {
		t.Fatalf("found %d example rule sets, want retail and the two B2B ones", len(loaded.RuleSets))
	}
	for _, rs := range loaded.RuleSets {
		t.Run(rs.Name, func(t *testing.T) {
			rep := ruletest.Run(rs)
			for _, c := range rep.Cases {
				if !c.Passed() {
					t.Errorf("%s: %v", c.Case.Name, c.Failures)
				}
			}
			if un := rep.Uncovered(); len(un) > 0 {
				t.Errorf("rules no case matches: %v", un)
			}
		})
	}
}

// TestEmbeddedRetail: the copy the binary embeds for the demo is the
// example itself.
func TestEmbeddedRetail(t *testing.T) {
	src, err := examples.Retail.ReadFile("retail/retail.yaml")
	if err != nil || len(src) == 0 {
		t.Fatalf("embedded retail.yaml: %v", err)
	}
}
