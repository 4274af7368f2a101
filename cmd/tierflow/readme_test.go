package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// codeBlocks returns the fenced code blocks of a markdown file by
// language.
func codeBlocks(t *testing.T, path, lang string) []string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		out = append(out, m[1])
	}
	return out
}

// TestReadmeSetUp: the README gives exactly two set-up commands; the first
// is the demo (run here, in-process, in an empty directory), the second
// is the test command .ci/run calls (which is this very suite).
func TestReadmeSetUp(t *testing.T) {
	blocks := codeBlocks(t, "../../README.md", "sh")
	if len(blocks) == 0 {
		t.Fatal("README has no sh blocks")
	}
	var cmds []string
	for _, line := range strings.Split(blocks[0], "\n") {
		if line = strings.TrimSpace(line); line != "" {
			cmd, _, _ := strings.Cut(line, "#")
			cmds = append(cmds, strings.TrimSpace(cmd))
		}
	}
	if len(cmds) != 2 || cmds[0] != "go run ./cmd/tierflow demo" || cmds[1] != "bash scripts/test.sh" {
		t.Fatalf("README set-up commands = %q, want the demo and the test suite", cmds)
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil || !strings.Contains(string(ci), "scripts/test.sh") {
		t.Fatalf(".ci/run must call the README's test command: %v", err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	runDemoCLI(t).want(t, exitOK)
	if _, err := os.Stat(filepath.Join(dir, "tierflow-demo", "tierflow.db")); err != nil {
		t.Fatalf("the demo did not create its database in the working directory: %v", err)
	}
}

// TestReadmeFirstRuleFile: the README's first rule file checks and its
// test passes, and the commands listed under "Commands" work on it.
func TestReadmeFirstRuleFile(t *testing.T) {
	var rulesYAML string
	for _, b := range codeBlocks(t, "../../README.md", "yaml") {
		if strings.HasPrefix(b, "ruleset: shop") {
			rulesYAML = b
		}
	}
	if rulesYAML == "" {
		t.Fatal("README lost its first rule file example")
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rules, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rules, "shop.yaml"), []byte(rulesYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLI(t, nil, "check", "--strict", rules).want(t, exitOK)
	runCLI(t, nil, "test", "--min-coverage", "90", rules).want(t, exitOK)
	facts := filepath.Join(dir, "customer.yaml")
	if err := os.WriteFile(facts, []byte("key: \"42\"\nfacts: {spend_12m: 60000}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "explain", "--facts", facts, "--as-of", "2024-07-01", filepath.Join(rules, "shop.yaml")).want(t, exitOK)
	if !strings.Contains(r.stdout, "welcome_vip  fired") {
		t.Fatalf("explain of the README example:\n%s", r.stdout)
	}
	runCLI(t, nil, "init", filepath.Join(dir, "myproject")).want(t, exitOK)
}

// TestReadmeNewProject runs the README's "Your own project" commands as
// a newcomer would type them, in an empty directory, with no database
// server: init, gen into the facts file the config reads, migrate, plan,
// apply. Afterwards the state is in the embedded store and a plan finds
// nothing left to change.
func TestReadmeNewProject(t *testing.T) {
	var block string
	for _, b := range codeBlocks(t, "../../README.md", "sh") {
		if strings.HasPrefix(b, "tierflow init") {
			block = b
		}
	}
	if block == "" {
		t.Fatal(`README lost its "Your own project" commands (a sh block starting with tierflow init)`)
	}
	t.Chdir(t.TempDir())
	ran := map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, cmd := range strings.Split(line, "&&") {
			args := strings.Fields(cmd)
			if len(args) == 0 {
				continue
			}
			if args[0] == "cd" && len(args) == 2 {
				t.Chdir(args[1])
				continue
			}
			if args[0] != "tierflow" || len(args) < 2 {
				t.Fatalf("README command %q: only tierflow and cd are expected here", cmd)
			}
			want := exitOK
			if args[1] == "plan" {
				want = exitOK // the first plan assigns everyone
			}
			runCLI(t, nil, args[1:]...).want(t, want)
			ran[args[1]] = true
		}
	}
	for _, c := range []string{"init", "gen", "migrate", "plan", "apply"} {
		if !ran[c] {
			t.Errorf("the README's project commands no longer run tierflow %s", c)
		}
	}
	if _, err := os.Stat("tierflow.db"); err != nil {
		t.Fatalf("the project has no embedded store after apply: %v", err)
	}
	runCLI(t, nil, "plan", "--quiet").want(t, exitOK)
}
