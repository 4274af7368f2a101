package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// movingProject is a file project applied once, whose facts then move
// customer 2 up the value tiers (small -> key) and customer 3 down
// (regular -> small). It returns its config.
func movingProject(t *testing.T) string {
	t.Helper()
	dir, write := fileProject(t, "", "1,60000,60000,8,2020-01-01,2024-06-20,online\n"+
		"2,100,100,1,2020-01-01,2024-06-20,store\n3,5000,5000,3,2020-01-01,2024-06-20,store\n")
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	runCLI(t, nil, "apply", "--config", config, "--as-of", "2024-07-01", "--quiet").want(t, exitOK)
	write("facts.csv", retailHeader+"1,60000,60000,8,2020-01-01,2024-06-20,online\n"+
		"2,20000,100,4,2020-01-01,2024-07-20,store\n3,100,5000,1,2020-01-01,2024-07-20,store\n")
	return config
}

// TestPlanColourCLI: plan colours its moves when asked to (--color
// always, TIERFLOW_COLOR=always), and otherwise prints exactly what it
// printed before colour: with NO_COLOR, --color never, or when stdout is
// not a terminal (a buffer here). JSON never has colour.
func TestPlanColourCLI(t *testing.T) {
	t.Parallel()
	config := movingProject(t)
	plan := []string{"plan", "--config", config, "--as-of", "2024-08-01", "--quiet"}
	plain := runCLI(t, nil, plan...).want(t, exitOK).stdout
	if strings.Contains(plain, "\x1b") || !strings.Contains(plain, "    small -> key  1\n") {
		t.Fatalf("plain plan:\n%q", plain)
	}
	for _, c := range []struct {
		env   map[string]string
		flags []string
	}{
		{nil, []string{"--color", "always"}},
		{map[string]string{"TIERFLOW_COLOR": "always"}, nil},
		{map[string]string{"NO_COLOR": "1"}, []string{"--color=always"}},
	} {
		got := runCLI(t, c.env, append(plan, c.flags...)...).want(t, exitOK).stdout
		for _, want := range []string{"    \x1b[32msmall -> key  1\x1b[0m\n", "    \x1b[31mregular -> small  1\x1b[0m\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("env %v, flags %v: no %q in\n%s", c.env, c.flags, want, got)
			}
		}
	}
	for _, c := range []struct {
		env   map[string]string
		flags []string
	}{
		{map[string]string{"NO_COLOR": "1"}, nil},
		{map[string]string{"TIERFLOW_COLOR": "always"}, []string{"--color", "never"}},
		{map[string]string{"NO_COLOR": "1", "TIERFLOW_COLOR": "auto"}, nil},
		{map[string]string{"TIERFLOW_COLOR": "auto"}, []string{"--color", "auto"}}, // not a terminal
	} {
		if got := runCLI(t, c.env, append(plan, c.flags...)...).want(t, exitOK).stdout; got != plain {
			t.Errorf("env %v, flags %v: the plan is not the plain one:\n%q", c.env, c.flags, got)
		}
	}
	js := runCLI(t, nil, append(plan, "--color", "always", "--format", "json")...).want(t, exitOK).stdout
	if strings.Contains(js, "\x1b") || !strings.HasPrefix(js, "[") {
		t.Errorf("plan --format json --color always:\n%q", js)
	}
}

// TestErrorColour: with colour, the "tierflow:" of an error is red and a
// closing hint cyan; without, errors are as they were.
func TestErrorColour(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	plain := runCLI(t, nil, "runs", "--config", missing).want(t, exitFailure).stderr
	if !strings.HasPrefix(plain, "tierflow: ") || strings.Contains(plain, "\x1b") {
		t.Fatalf("plain error: %q", plain)
	}
	got := runCLI(t, nil, "runs", "--config", missing, "--color", "always").want(t, exitFailure).stderr
	if want := "\x1b[1m\x1b[31mtierflow:\x1b[0m " + strings.TrimPrefix(plain, "tierflow: "); got != want {
		t.Errorf("coloured error = %q, want %q", got, want)
	}
	r := runCLI(t, map[string]string{"TIERFLOW_COLOR": "always"}, "actions", "frob").want(t, exitFailure)
	if !strings.HasPrefix(r.stderr, "\x1b[1m\x1b[31mtierflow:\x1b[0m ") || !strings.Contains(r.stderr, "\x1b[36m(tierflow actions --help)\x1b[0m") {
		t.Errorf("coloured error with a hint: %q", r.stderr)
	}
	r = runCLI(t, map[string]string{"TIERFLOW_COLOR": "always"}, "pln").want(t, exitFailure)
	if !strings.HasPrefix(r.stderr, "\x1b[1m\x1b[31mtierflow:\x1b[0m unknown command \"pln\"") {
		t.Errorf("unknown command: %q", r.stderr)
	}
	r = runCLI(t, nil, "plan", "--color", "sometimes").want(t, exitFailure)
	if !strings.Contains(r.stderr, `invalid value "sometimes" for flag -color: use auto, always, never`) {
		t.Errorf("--color sometimes: %s", r)
	}
}

// TestColourOn: which of --color, TIERFLOW_COLOR and NO_COLOR wins.
func TestColourOn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		flag string
		env  map[string]string
		want bool
	}{
		{"", nil, false}, // a buffer is not a terminal
		{"always", nil, true},
		{"never", map[string]string{"TIERFLOW_COLOR": "always"}, false},
		{"", map[string]string{"TIERFLOW_COLOR": "always"}, true},
		{"", map[string]string{"TIERFLOW_COLOR": " always "}, true},
		{"", map[string]string{"TIERFLOW_COLOR": "always", "NO_COLOR": "1"}, true},
		{"always", map[string]string{"NO_COLOR": "1"}, true},
		{"", map[string]string{"NO_COLOR": "1"}, false},
		{"", map[string]string{"TIERFLOW_COLOR": "bogus"}, false},
	} {
		a := newApp(&bytes.Buffer{}, &bytes.Buffer{})
		a.getenv = func(k string) string { return c.env[k] }
		a.colour = c.flag
		if got := a.colourOn(a.stdout); got != c.want {
			t.Errorf("--color %q, env %v: colour %v, want %v", c.flag, c.env, got, c.want)
		}
	}
}
