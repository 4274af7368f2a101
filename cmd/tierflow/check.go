package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tierflow/tierflow/rules"
)

const checkUsage = `
Usage: tierflow check [flags] PATH...

Validates rule files: YAML structure, names, types of every expression,
segmentation dependencies, and test cases. Every error in every file is
reported at once, with file:line:column and a hint. Warnings point at
rules that load but are probably mistakes (a segment that can never match,
an unused parameter). PATH may be a file or a directory, searched
recursively for YAML files with a top-level "ruleset:" key.

With --db, check also opens each configured rule set's facts source
(tierflow.yaml: a query on the state database or on another one, or CSV /
JSON Lines files) and verifies that it returns the key and every fact the
rules read, with a compatible type: SQL columns by their types (and, on
SQLite, their first values), files by their headers and the values of
their first 100 rows. Rule files that declare no facts are checked against
the source's own columns.

Exit status: 0 when there are no errors, 1 otherwise (or with --strict,
when there are warnings).

Examples:
  tierflow check examples/retail/retail.yaml
  tierflow check rules/                  # every rule file under rules/
  tierflow check --strict rules/         # in CI: warnings fail too
  tierflow check --db                    # the configured rule sets against their facts sources
`

func runCheck(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("check", checkUsage)
	strict := fs.Bool("strict", false, "treat warnings as errors")
	db := fs.Bool("db", false, "also check the configured rule sets' facts sources (databases and files)")
	df := addDBFlags(fs)
	paths, code, ok := a.parse(fs, args)
	if !ok {
		return code
	}
	if *db {
		return a.checkDB(ctx, df)
	}
	if len(paths) == 0 {
		return a.errorf("check: name at least one rule file or directory (e.g. tierflow check rules/)")
	}
	loaded := rules.LoadFiles(paths, ruleOptions())
	errs, warns := printDiagnostics(a.stderr, loaded.Diagnostics)
	for _, rs := range loaded.RuleSets {
		fmt.Fprintf(a.stdout, "ok  %s  %s (%s, %s, %s)\n", rs.File, rs.Name,
			plural(len(rs.Segmentations), "segmentation"), plural(len(rs.Actions), "action"), plural(len(rs.Tests), "test case"))
	}
	fmt.Fprintf(a.stdout, "%d rule set(s) ok, %s, %s\n", len(loaded.RuleSets), plural(errs, "error"), plural(warns, "warning"))
	if errs > 0 || (*strict && warns > 0) {
		return exitFailure
	}
	return exitOK
}

// printDiagnostics writes diagnostics, a blank line between each, and
// counts errors and warnings.
func printDiagnostics(w io.Writer, ds []rules.Diagnostic) (errs, warns int) {
	for _, d := range ds {
		fmt.Fprintln(w, d.String())
		fmt.Fprintln(w)
		if d.Severity == rules.SeverityWarning {
			warns++
		} else {
			errs++
		}
	}
	return errs, warns
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// checkDB checks every configured rule set against its facts source.
func (a *app) checkDB(ctx context.Context, df dbFlags) int {
	_, w, sets, err := a.openDB(ctx, df)
	if err != nil {
		return a.errorf("check: %v", err)
	}
	defer w.Close()
	failed := false
	for _, set := range sets {
		checker, ok := w.facts.For(set.rs.Name).(factsChecker)
		if !ok {
			fmt.Fprintf(a.stdout, "--  %s: its source (%s) cannot be checked before a run\n", set.rs.Name, set.cfg.Source.label())
			continue
		}
		problems, err := checker.CheckFacts(ctx, set.rs)
		if err != nil {
			return a.errorf("check: %s", w.Redact(err.Error()))
		}
		if len(problems) == 0 {
			fmt.Fprintf(a.stdout, "ok  %s: the facts source provides the key and all %s\n", set.rs.Name, plural(len(set.rs.Facts.Fields), "fact"))
			continue
		}
		failed = true
		for _, p := range problems {
			fmt.Fprintf(a.stderr, "%s: %s: %s\n", set.rs.File, set.rs.Name, p)
		}
	}
	if failed {
		return exitFailure
	}
	return exitOK
}
