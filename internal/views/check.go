package views

import (
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/tierflow/tierflow/rules"
)

// The formats of tierflow check and tierflow test beyond text, json and
// markdown (docs/output.md).
const (
	// SARIF is SARIF 2.1.0, for code scanning (check).
	SARIF Format = "sarif"
	// GitHub is GitHub Actions workflow commands, which annotate the
	// lines of a pull request (check).
	GitHub Format = "github"
	// JUnit is JUnit XML, for test-report tools (test).
	JUnit Format = "junit"
)

// checkFormats are tierflow check's formats for rule files, testFormats
// tierflow test's.
var (
	checkFormats = []Format{Text, JSON, SARIF, GitHub}
	testFormats  = []Format{Text, JSON, JUnit}
)

// ParseCheckFormat picks the format of tierflow check on rule files, or
// says which formats there are.
func ParseCheckFormat(name string) (Format, error) { return parseFormat(name, checkFormats) }

// ParseTestFormat picks the format of tierflow test, or says which
// formats there are.
func ParseTestFormat(name string) (Format, error) { return parseFormat(name, testFormats) }

// CheckRun is what tierflow check found in rule files, for its
// machine-readable formats.
type CheckRun struct {
	// Diagnostics are every error and warning found, in file order.
	Diagnostics []rules.Diagnostic
	// RuleSets are the rule sets that loaded.
	RuleSets []*rules.RuleSet
	// Strict makes warnings fail the check (--strict).
	Strict bool
	// Version is tierflow's version, for SARIF's tool.driver.version.
	Version string
	// Dir is the directory SARIF and GitHub annotations give file paths
	// relative to: the working directory, in CI the repository's root.
	Dir string
}

// Counts returns the number of errors and of warnings.
func (r *CheckRun) Counts() (errs, warns int) {
	for _, d := range r.Diagnostics {
		if d.Severity == rules.SeverityWarning {
			warns++
		} else {
			errs++
		}
	}
	return errs, warns
}

// Failed reports whether the check fails: an error, or a warning under
// Strict.
func (r *CheckRun) Failed() bool {
	errs, warns := r.Counts()
	return errs > 0 || (r.Strict && warns > 0)
}

// WriteCheck renders run in f: JSON, SARIF or GitHub workflow commands
// (text is tierflow check's own output).
func WriteCheck(f Format, w io.Writer, run *CheckRun) error {
	switch f {
	case JSON:
		return writeJSON(w, newCheckJSON(run))
	case SARIF:
		return writeJSON(w, newSARIF(run))
	case GitHub:
		return writeGitHub(w, run)
	}
	return parseFormatError(f, checkFormats)
}

func parseFormatError(f Format, allowed []Format) error {
	_, err := parseFormat(string(f), allowed)
	return err
}

// relPath is path relative to dir with forward slashes, as code-scanning
// and annotation tools expect; a path outside dir is made absolute, and
// with no dir, path stays as given.
func relPath(dir, path string) string {
	if path == "" || dir == "" {
		return filepath.ToSlash(path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	if rel, err := filepath.Rel(dir, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(abs)
}

// fileURI is path as a SARIF artifact URI: relative to dir (and to the
// %SRCROOT% base) when it is inside it, else an absolute file: URI.
func fileURI(dir, path string) (uri string, relative bool) {
	p := relPath(dir, path)
	if strings.HasPrefix(p, "/") || filepath.IsAbs(filepath.FromSlash(p)) {
		u := url.URL{Scheme: "file", Path: "/" + strings.TrimPrefix(p, "/")}
		return u.String(), false
	}
	u := url.URL{Path: p}
	return u.String(), true
}

// dirURI is dir as an absolute file: URI ending in a slash, as SARIF's
// originalUriBaseIds requires.
func dirURI(dir string) string {
	p := filepath.ToSlash(dir)
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	u := url.URL{Scheme: "file", Path: "/" + strings.TrimPrefix(p, "/")}
	return u.String()
}
