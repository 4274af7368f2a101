package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tierflow/tierflow/rules"
)

// baselineFor finds the baseline version of rs: in ref when it is a
// directory (by rule set name), else in the git revision ref (the same
// file path at that revision). It returns nil, nil when the rule set does
// not exist in the baseline: the change adds it.
func baselineFor(ref string, rs *rules.RuleSet) (*rules.RuleSet, error) {
	if info, err := os.Stat(ref); err == nil && info.IsDir() {
		loaded := rules.LoadFiles([]string{ref}, ruleOptions())
		for _, b := range loaded.RuleSets {
			if b.Name == rs.Name {
				return b, nil
			}
		}
		if err := loaded.Err(); err != nil {
			return nil, fmt.Errorf("baseline %s has errors:\n%v", ref, err)
		}
		return nil, nil
	}
	src, path, err := gitShow(ref, rs.File)
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, nil
	}
	b, err := rules.Compile(path+"@"+ref, src, ruleOptions())
	if err != nil {
		return nil, fmt.Errorf("baseline %s at %s does not compile:\n%v", path, ref, err)
	}
	return b, nil
}

// gitShow returns the content of file at revision ref, or nil when the
// file does not exist there.
func gitShow(ref, file string) ([]byte, string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, "", err
	}
	top, err := git(filepath.Dir(abs), "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, "", fmt.Errorf("--baseline %s: not a directory, and %s is not in a git repository: %v", ref, file, err)
	}
	top = strings.TrimSpace(top)
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	if resolved, err := filepath.EvalSymlinks(top); err == nil {
		top = resolved
	}
	rel, err := filepath.Rel(top, abs)
	if err != nil {
		return nil, "", err
	}
	rel = filepath.ToSlash(rel)
	if _, err := git(top, "rev-parse", "--verify", "--quiet", ref+"^{commit}"); err != nil {
		return nil, rel, fmt.Errorf("--baseline %s: no such git revision (fetch it first, e.g. git fetch origin main, or use a directory)", ref)
	}
	out, err := git(top, "show", ref+":"+rel)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "exists on disk, but not in") {
			return nil, rel, nil
		}
		return nil, rel, fmt.Errorf("--baseline %s: %v", ref, err)
	}
	return []byte(out), rel, nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		var ee *exec.Error
		if errors.As(err, &ee) {
			msg = "git is not installed"
		}
		return "", errors.New(msg)
	}
	return stdout.String(), nil
}
