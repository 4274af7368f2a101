package main

import (
	"strings"
	"testing"
)

// Every command's --help exits 0 and prints, on stdout only, a usage text
// with examples.
func TestHelp(t *testing.T) {
	t.Parallel()
	var cases [][]string
	for _, c := range commands() {
		cases = append(cases, []string{c.name, "--help"}, []string{c.name, "-h"})
	}
	cases = append(cases, []string{"--help"}, []string{"help"}, []string{"help", "plan"}, []string{"actions", "list", "--help"})
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, args...).want(t, exitOK)
			if !strings.Contains(r.stdout, "Examples:") {
				t.Errorf("no Examples: in the help text:\n%s", r.stdout)
			}
			if r.stderr != "" {
				t.Errorf("help wrote to stderr:\n%s", r.stderr)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"check"},
		{"check", "--no-such-flag", retailRules},
		{"test"},
		{"explain", retailRules},
		{"history"},
		{"actions"},
	} {
		r := runCLI(t, nil, args...).want(t, exitFailure)
		if r.stderr == "" {
			t.Errorf("tierflow %v: exit 1 without a word on stderr", args)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "check", "../../examples").want(t, exitOK)
	for _, name := range []string{"retail", "key_accounts", "churn_signals"} {
		if !strings.Contains(r.stdout, "ok  ") || !strings.Contains(r.stdout, name) {
			t.Errorf("check examples does not list %s as ok:\n%s", name, r.stdout)
		}
	}
	r = runCLI(t, nil, "check", "--strict", retailRules).want(t, exitOK)

	// A typo in a condition: the error names the file, line and column,
	// and the caret points at it.
	r = runCLI(t, nil, "check", "testdata/broken.yaml").want(t, exitFailure)
	for _, want := range []string{"testdata/broken.yaml:10:35: ", `unknown name "spendd"`, "^"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check broken.yaml: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// Good and bad files together: the bad one fails the run.
	runCLI(t, nil, "check", retailRules, "testdata/broken.yaml").want(t, exitFailure)
}

func TestTestCommand(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "test", "../../examples").want(t, exitOK)
	if !strings.Contains(r.stdout, "cases passed in 4 rule sets") {
		t.Errorf("test examples:\n%s", r.stdout)
	}
	runCLI(t, nil, "test", "--min-coverage", "90", "../../examples").want(t, exitOK)

	r = runCLI(t, nil, "test", "testdata/failing.yaml").want(t, exitFailure)
	for _, want := range []string{"--- FAIL: failing / a big spender is small", "failing.yaml:13:5", "expected small, got big"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("test failing.yaml: output lacks %q:\n%s", want, r.stdout)
		}
	}
	runCLI(t, nil, "test", "testdata/broken.yaml").want(t, exitFailure)
}

func TestExplainFacts(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "explain", "--facts", "testdata/customers.yaml", retailRules).want(t, exitOK)
	for _, want := range []string{"customer 42", "active -> at_risk", "winback_call        fired", "customer 7", "onboarding_message  fired"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain: output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, nil, "explain", "--facts", "testdata/customers.yaml", "--customer", "7", "--format", "json", retailRules).want(t, exitOK)
	if strings.Contains(r.stdout, `"42"`) || !strings.HasPrefix(r.stdout, "{\n  \"format_version\": 1,\n  \"explanations\": [") {
		t.Errorf("explain --customer 7 --format json:\n%s", r.stdout)
	}
	runCLI(t, nil, "explain", "--facts", "testdata/customers.yaml", "testdata/broken.yaml").want(t, exitFailure)
	runCLI(t, nil, "explain", "--facts", "testdata/customers.yaml", "--customer", "404", retailRules).want(t, exitFailure)
}
