package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsFirstRuleFile: the first example of docs/rules.md passes check
// --strict and its own test.
func TestDocsFirstRuleFile(t *testing.T) {
	for _, b := range codeBlocks(t, "../../docs/rules.md", "yaml") {
		if !strings.HasPrefix(b, "ruleset: shop") {
			continue
		}
		path := filepath.Join(t.TempDir(), "shop.yaml")
		if err := os.WriteFile(path, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		runCLI(t, nil, "check", "--strict", path).want(t, exitOK)
		runCLI(t, nil, "test", "--min-coverage", "100", path).want(t, exitOK)
		return
	}
	t.Fatal("docs/rules.md lost its first rule file")
}
