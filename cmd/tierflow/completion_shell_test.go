package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// runMainEnv makes this test binary run as tierflow itself, so that the
// shells' completion scripts can call `tierflow __complete` without a
// build: tierflowOnPath puts a tierflow script on PATH that runs it so.
const runMainEnv = "TIERFLOW_TEST_RUN_MAIN"

func init() {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(newApp(os.Stdout, os.Stderr).run(context.Background(), os.Args[1:]))
	}
}

// tierflowOnPath writes a tierflow command (this test binary as tierflow)
// and the completion script for shell into a new directory, and returns
// the environment that puts it first on PATH, and the script's path.
func tierflowOnPath(t *testing.T, shell string) (env []string, script string) {
	t.Helper()
	bin := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wrapper := "#!/bin/sh\n" + runMainEnv + "=1 exec '" + self + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "tierflow"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "completion", shell).want(t, exitOK)
	script = filepath.Join(bin, "tierflow."+shell)
	if err := os.WriteFile(script, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	return []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_DATA_HOME=" + home}, script
}

// shellPath finds a shell (Debian's package of the same name). A test
// that needs it fails under CI when it is missing, and is skipped
// elsewhere.
func shellPath(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := name + " not found in PATH: install Debian's " + name + " package (apt-get install --no-install-recommends " + name + "; scripts/test.sh does so as root)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// runShell runs script with the shell in dir and returns its output.
func runShell(t *testing.T, env []string, dir string, shell string, args ...string) string {
	t.Helper()
	cmd := exec.Command(shellPath(t, shell), args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", shell, args, err, out)
	}
	return string(out)
}

// bashComplete sources the bash script and calls its function as bash
// does on Tab, with COMP_WORDS and COMP_CWORD, and returns COMPREPLY.
func bashComplete(t *testing.T, env []string, script, dir string, words ...string) []string {
	t.Helper()
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + w + "'"
	}
	prog := "source '" + script + "'\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
		strconv.Itoa(len(words)-1) + "\n_tierflow\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
	out := strings.TrimSuffix(runShell(t, env, dir, "bash", "--norc", "--noprofile", "-c", prog), "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// TestBashCompletion drives the bash script as bash does on Tab.
func TestBashCompletion(t *testing.T) {
	t.Parallel()
	env, script := tierflowOnPath(t, "bash")
	dir, _ := fileProject(t, "", "")
	for _, c := range []struct {
		words []string
		want  []string
	}{
		{[]string{"tierflow", "pl"}, []string{"plan"}},
		{[]string{"tierflow", "actions", "re"}, []string{"retry"}},
		{[]string{"tierflow", "plan", "--ruleset", ""}, []string{"retail"}},
		{[]string{"tierflow", "sizes", "--segmentation", "v"}, []string{"value_tier"}},
		{[]string{"tierflow", "plan", "--format", ""}, []string{"text", "json", "markdown"}},
		// bash splits --format=j into --format, = and j.
		{[]string{"tierflow", "plan", "--format", "=", "j"}, []string{"json"}},
		{[]string{"tierflow", "plan", "--format", "="}, []string{"text", "json", "markdown"}},
		{[]string{"tierflow", "plan", "--config", "tier"}, []string{"tierflow.yaml"}},
		{[]string{"tierflow", "init", "r"}, []string{"rules"}},
		{[]string{"tierflow", "check", "rules/r"}, []string{"rules/retail.yaml"}},
		{[]string{"tierflow", "actions", "show", ""}, nil},
	} {
		if got := bashComplete(t, env, script, dir, c.words...); !slices.Equal(got, c.want) {
			t.Errorf("bash completion of %q = %q, want %q", c.words, got, c.want)
		}
	}
	got := bashComplete(t, env, script, dir, "tierflow", "plan", "--")
	for _, f := range []string{"--baseline", "--detailed-exitcode", "--format", "--ruleset", "--color", "--out"} {
		if !slices.Contains(got, f) {
			t.Errorf("bash completion of plan's flags lacks %s: %q", f, got)
		}
	}
}

// TestZshCompletion: the zsh script parses, and run with zsh's
// completion functions stubbed, it hands _describe the candidates with
// their descriptions and asks _files for paths.
func TestZshCompletion(t *testing.T) {
	t.Parallel()
	env, script := tierflowOnPath(t, "zsh")
	dir, _ := fileProject(t, "", "")
	runShell(t, env, dir, "zsh", "-n", script)
	complete := func(words ...string) string {
		prog := `compdef() { print -r -- "compdef $*" }
_describe() { local name=${@[-1]}; print -rl -- "${(@P)name}" }
_files() { print -r -- "_files $* PREFIX=$PREFIX" }
compset() { PREFIX=${PREFIX#*=} }
source '` + script + `'
words=(` + strings.Join(words, " ") + `)
CURRENT=${#words}
PREFIX=${words[-1]}
_tierflow`
		return runShell(t, env, dir, "zsh", "-f", "-c", prog)
	}
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"tierflow", "pl"}, "compdef _tierflow tierflow\nplan:show what an apply would change, writing nothing\n"},
		{[]string{"tierflow", "plan", "--ruleset", "''"}, "compdef _tierflow tierflow\nretail:零售客户分群\n"},
		{[]string{"tierflow", "plan", "--format=j"}, "compdef _tierflow tierflow\n--format=json\n"},
		{[]string{"tierflow", "init", "''"}, "compdef _tierflow tierflow\n_files -/ PREFIX=\n"},
		{[]string{"tierflow", "plan", "--config=tier"}, "compdef _tierflow tierflow\n_files  PREFIX=tier\n"},
	} {
		if got := complete(c.words...); got != c.want {
			t.Errorf("zsh completion of %q:\n%q\nwant\n%q", c.words, got, c.want)
		}
	}
}

// TestFishCompletion: the fish script parses, and fish completes with
// it.
func TestFishCompletion(t *testing.T) {
	t.Parallel()
	env, script := tierflowOnPath(t, "fish")
	dir, _ := fileProject(t, "", "")
	runShell(t, env, dir, "fish", "--no-execute", script)
	complete := func(line string) []string {
		out := runShell(t, env, dir, "fish", "--no-config", "-c", "source '"+script+"'; complete -C '"+line+"'")
		return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	}
	for _, c := range []struct {
		line string
		want []string
	}{
		{"tierflow pl", []string{"plan\tshow what an apply would change, writing nothing"}},
		{"tierflow plan --ruleset ", []string{"retail\t零售客户分群"}},
		{"tierflow actions list --status held", []string{"held_out"}},
		{"tierflow plan --config tier", []string{"tierflow.yaml"}},
		{"tierflow plan --config=tier", []string{"--config=tierflow.yaml"}},
		{"tierflow init ru", []string{"rules/\tDirectory"}},
	} {
		if got := complete(c.line); !slices.Equal(got, c.want) {
			t.Errorf("fish completion of %q = %q, want %q", c.line, got, c.want)
		}
	}
}
