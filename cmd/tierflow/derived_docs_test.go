package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The rule file of docs/rules.md's derived facts section passes check
// --strict and its own tests.
func TestDocsDerivedRuleFile(t *testing.T) {
	t.Parallel()
	for _, b := range codeBlocks(t, "../../docs/rules.md", "yaml") {
		if !strings.HasPrefix(b, "ruleset: orders_shop") {
			continue
		}
		path := filepath.Join(t.TempDir(), "orders_shop.yaml")
		if err := os.WriteFile(path, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		runCLI(t, nil, "check", "--strict", path).want(t, exitOK)
		runCLI(t, nil, "test", path).want(t, exitOK)
		return
	}
	t.Fatal("docs/rules.md lost its derived facts rule file (a yaml block starting with ruleset: orders_shop)")
}
