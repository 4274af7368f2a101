package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/internal/views"
)

// completed runs tierflow __complete words... in-process and returns the
// candidates (without descriptions) and the directive line. It fails the
// test unless __complete exits 0 with nothing on stderr.
func completed(t *testing.T, env map[string]string, words ...string) (cands []string, directive string) {
	t.Helper()
	r := runCLI(t, env, append([]string{completeCommand}, words...)...)
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("__complete %q: %s", words, r)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	for _, l := range lines[:len(lines)-1] {
		value, _, _ := strings.Cut(l, "\t")
		cands = append(cands, value)
	}
	return cands, lines[len(lines)-1]
}

// wantCands fails unless __complete words... offers exactly want.
func wantCands(t *testing.T, want []string, words ...string) {
	t.Helper()
	if got, _ := completed(t, nil, words...); !slices.Equal(got, want) {
		t.Errorf("__complete %q = %q, want %q", words, got, want)
	}
}

func TestCompleteCommands(t *testing.T) {
	t.Parallel()
	wantCands(t, []string{"plan"}, "pl")
	wantCands(t, []string{"coverage", "completion"}, "co")
	wantCands(t, []string{"serve"}, "se")
	wantCands(t, []string{"list", "show", "done", "fail", "retry", "cancel"}, "actions", "")
	wantCands(t, []string{"retry"}, "actions", "re")
	wantCands(t, []string{"bash", "zsh", "fish"}, "completion", "")
	all, directive := completed(t, nil, "")
	for _, c := range commands() {
		if !slices.Contains(all, c.name) {
			t.Errorf("command %s is not completed: %q", c.name, all)
		}
	}
	if slices.Contains(all, completeCommand) || directive != ":0" {
		t.Errorf("__complete '' = %q %s: the hidden command is offered, or a directive other than :0", all, directive)
	}
	if got, _ := completed(t, nil, "help", "ver"); !slices.Equal(got, []string{"version"}) {
		t.Errorf("help ver: %q", got)
	}
	wantCands(t, nil, "frobnicate", "")
}

// helpFlags are the flags a command's --help lists.
func helpFlags(t *testing.T, args ...string) []string {
	t.Helper()
	r := runCLI(t, nil, append(args, "--help")...).want(t, exitOK)
	_, list, _ := strings.Cut(r.stdout, "\nFlags:\n")
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`).FindAllStringSubmatch(list, -1) {
		names = append(names, "--"+m[1])
	}
	return names
}

// TestCompleteFlags: every flag a command's --help lists is completed
// (from the command's own FlagSet), but deprecated ones; --help too.
func TestCompleteFlags(t *testing.T) {
	t.Parallel()
	cmds := [][]string{}
	for _, c := range commands() {
		if subs := subcommands(c.name); subs != nil {
			for _, s := range subs {
				cmds = append(cmds, []string{c.name, s})
			}
			continue
		}
		cmds = append(cmds, []string{c.name})
	}
	for _, cmd := range cmds {
		got, directive := completed(t, nil, append(slices.Clone(cmd), "--")...)
		help := helpFlags(t, cmd...)
		if len(help) == 0 || directive != ":0" {
			t.Fatalf("%s: --help lists no flags, or directive %s", cmd, directive)
		}
		for _, f := range help {
			deprecated := f == "--json"
			if slices.Contains(got, f) == deprecated {
				t.Errorf("%s: completing -- gives %q; --help lists %s (deprecated: %v, which must not be offered)", cmd, got, f, deprecated)
			}
		}
		if !slices.Contains(got, "--help") || !slices.Contains(got, "--color") {
			t.Errorf("%s: no --help or --color in %q", cmd, got)
		}
	}
	wantCands(t, []string{"--baseline"}, "plan", "--ba")
	wantCands(t, []string{"-detailed-exitcode"}, "plan", "-det")
	wantCands(t, []string{"--allow-failed-checks"}, "plan", "--allow")
	wantCands(t, []string{"--allow-failed-checks", "--allow-large-change"}, "apply", "--allow") // in name order
	// Flags after arguments, as the commands accept them.
	wantCands(t, []string{"--min-coverage"}, "test", "rules/", "--min")
}

func TestCompleteFlagValues(t *testing.T) {
	t.Parallel()
	wantCands(t, []string{"text", "json", "markdown"}, "plan", "--format", "")
	wantCands(t, []string{"--format=json"}, "plan", "--format=j")
	wantCands(t, []string{"-format=markdown"}, "explain", "-format=m")
	wantCands(t, []string{"html", "json", "csv"}, "report", "--format", "")
	wantCands(t, []string{"csv", "jsonl"}, "gen", "--format", "")
	wantCands(t, []string{"retail", "orders", "b2b"}, "gen", "--kind", "")
	wantCands(t, []string{"auto", "always", "never"}, "version", "--color", "")
	wantCands(t, actionStatuses, "actions", "list", "--status", "")
	wantCands(t, reportTables(), "report", "--table", "")
	wantCands(t, nil, "gen", "--months", "")
	wantCands(t, nil, "plan", "--max-actions", "")
	wantCands(t, nil, "effects", "--since", "")
	// The formats offered are those the views accept.
	for _, f := range []string{"text", "json", "markdown"} {
		if _, err := views.NewPlan(f, io.Discard); err != nil {
			t.Errorf("plan --format %s is offered but refused: %v", f, err)
		}
	}
	for _, f := range []string{"text", "json", "markdown", "csv"} {
		if _, err := views.NewTable(f, io.Discard); err != nil {
			t.Errorf("runs --format %s is offered but refused: %v", f, err)
		}
	}
	got, _ := completed(t, nil, "runs", "--format", "")
	if !slices.Equal(got, []string{"text", "json", "markdown", "csv"}) {
		t.Errorf("runs --format: %q", got)
	}
}

func TestCompletePaths(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		words     []string
		directive string
	}{
		{[]string{"plan", "--config", ""}, ":1"},
		{[]string{"plan", "--config=t"}, ":1"},
		{[]string{"check", ""}, ":1"},
		{[]string{"check", "rules/", ""}, ":1"}, // PATH...
		{[]string{"apply", ""}, ":1"},
		{[]string{"apply", "plan.json", ""}, ":0"}, // one PLAN_FILE
		{[]string{"init", ""}, ":2"},
		{[]string{"demo", "--dir", ""}, ":2"},
		{[]string{"plan", "--baseline", ""}, ":2"},
		{[]string{"actions", "show", ""}, ":0"},
		{[]string{"history", "--customer", ""}, ":0"},
		{[]string{"test", "--", "-odd-name"}, ":1"},
	} {
		if cands, directive := completed(t, nil, c.words...); directive != c.directive || len(cands) > 0 {
			t.Errorf("__complete %q = %q %s, want the directive %s", c.words, cands, directive, c.directive)
		}
	}
}

// TestFlagChoices: the lists of values in flag usage texts, and texts
// that are not such lists.
func TestFlagChoices(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		usage string
		want  []string
	}{
		{"output `format`: text, json (docs/output.md), markdown or csv", []string{"text", "json", "markdown", "csv"}},
		{"output `format`: text; for rule files json, sarif or github; with --data json, markdown or csv (docs/output.md)",
			[]string{"text", "json", "sarif", "github", "markdown", "csv"}},
		{"csv or jsonl (default: from --out's extension, else csv)", []string{"csv", "jsonl"}},
		{"population: retail or b2b", []string{"retail", "b2b"}},
		{"evaluate at this `date` (2024-07-01 or RFC 3339; default: today, UTC midnight)", nil},
		{"read decisions from this long before --until (30d, 26w), or from this `date`", nil},
		{"take the snapshot this many months after --as-of: the same customers, later", nil},
		{"with --baseline: fail when more than `N` customers gain or lose an action; ACTION=N limits one action (repeatable)", nil},
		{"how it ended: one of the `outcome`s the action declares (outcomes: in its rule file)", nil},
		{"only this rule set", nil},
		{"text", nil},
	} {
		if got := flagChoices(c.usage); !slices.Equal(got, c.want) {
			t.Errorf("flagChoices(%q) = %q, want %q", c.usage, got, c.want)
		}
	}
}

func TestArgKinds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		usage, name string
		want        []string
	}{
		{"\nUsage: tierflow sizes [flags] [RULESET]\n\nShows", "tierflow sizes", []string{"RULESET"}},
		{"Usage: tierflow explain --facts FILE [flags] RULES\n       tierflow explain --customer KEY [--ruleset NAME]", "tierflow explain", []string{"RULES"}},
		{actionsUsage, "tierflow actions done", []string{"ID"}},
		{actionsUsage, "tierflow actions list", nil},
		{"Usage: tierflow check [flags] PATH...", "tierflow check", []string{"PATH..."}},
		{"Usage: tierflow checkers X", "tierflow check", nil},
	} {
		if got := argKinds(c.usage, c.name); !slices.Equal(got, c.want) {
			t.Errorf("argKinds(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestCompleteCapturesEveryCommand: reading a command's flags runs
// nothing: every command hands over its FlagSet, and writes no file.
func TestCompleteCapturesEveryCommand(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, c := range commands() {
		for _, sub := range append([]string{""}, subcommands(c.name)...) {
			var args []string
			if sub != "" {
				args = []string{sub}
			}
			if fc := commandFlags(context.Background(), c, args); (fc.fs == nil) != (sub == "" && subcommands(c.name) != nil) {
				t.Errorf("%s %s: FlagSet %v", c.name, sub, fc.fs)
			}
		}
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		t.Errorf("reading the commands' flags wrote %v (%v)", entries, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tierflow.db")); err == nil {
		t.Error("tierflow.db was created")
	}
}
