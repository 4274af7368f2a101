package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
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
the source's own columns. A rule set with several sources has each
checked for the facts it provides.

With --data, check reads every configured rule set's facts sources (or
the one --ruleset names) in one pass, without evaluating rules or writing
anything, and prints a data-quality table: per source its rows,
customers, duplicate keys, rows matching no customer of the primary
source and newest date; per fact its nulls, values that could not be
converted, and values breaking the fact's checks; the customers the state
knows that no source returns; then every declared check, PASS or FAIL,
with examples (docs/data-quality.md). Checks are declared on facts in the
rule file (min, max, one_of, unique, max_null_share) and on sources in
tierflow.yaml (min_rows, max_row_change, fresh_within). --as-of is the
time fresh_within is measured from. --format is text, json, markdown or
csv (docs/output.md).

For rule files, --format json prints every error and warning with its
file, line, column, field, message and hint; --format sarif prints a
SARIF 2.1.0 log for code scanning; --format github prints GitHub Actions
workflow commands, which annotate the lines of a pull request. Paths in
SARIF and annotations are relative to the working directory: run check
from the repository's root. The errors are still written to stderr in
words with json and sarif (docs/output.md).

With --explain-sql, check also prints, for each rule set, which of its
expressions translate exactly to PostgreSQL (their value, the condition
for the engine's rule error, and the rare rows left to the engine, such
as a product of numbers beyond 1e150), and for the others the construct and
why it has no exact translation (docs/rules.md, "Rules in SQL"), and
whether an incremental run on PostgreSQL lets the database decide who is
unchanged, or which condition stops it (docs/operations.md, "Decided in
the database"), and whether the whole evaluation of a customer (every
decision, action, cooldown and payload) translates, which a set-based
run in the database will need, or the first part that does not. The exit status does not depend on it: an expression
that does not translate runs in the engine.

Exit status: 0 when there are no errors, 1 otherwise (or with --strict,
when there are warnings), whatever the format. With --data: 0 when every
check passes, 1 when a check fails or a source cannot be read.

Examples:
  tierflow check examples/retail/retail.yaml
  tierflow check rules/                  # every rule file under rules/
  tierflow check --strict rules/         # in CI: warnings fail too
  tierflow check --explain-sql examples/retail/retail.yaml   # which rules can run inside PostgreSQL
  tierflow check --format github rules/  # in GitHub Actions: errors annotate the pull request's lines
  tierflow check --format sarif rules/ > tierflow.sarif   # for github/codeql-action/upload-sarif
  tierflow check --format json rules/ | jq '.diagnostics[] | select(.severity == "error")'
  tierflow check --db                    # the configured rule sets against their facts sources
  tierflow check --data                  # run every data-quality check on today's facts
  tierflow check --data --ruleset retail --as-of 2024-07-01 --format markdown >> "$GITHUB_STEP_SUMMARY"
`

func runCheck(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("check", checkUsage)
	strict := fs.Bool("strict", false, "treat warnings as errors")
	db := fs.Bool("db", false, "also check the configured rule sets' facts sources (databases and files)")
	data := fs.Bool("data", false, "run the data-quality checks on the configured rule sets' current facts and print a table; no rule is evaluated")
	asOfFlag := fs.String("as-of", "", "with --data: measure fresh_within from this `date` (2024-07-01 or RFC 3339; default: today, UTC midnight)")
	quiet := fs.Bool("quiet", false, "with --data: no progress output")
	explainSQL := fs.Bool("explain-sql", false, "for rule files: also print which expressions translate exactly to PostgreSQL, and why the others do not")
	ff := addFormatFlag(fs, "text; for rule files json, sarif or github; with --data json, markdown or csv (docs/output.md)")
	df := addDBFlags(fs)
	paths, code, ok := a.parse(fs, args)
	if !ok {
		return code
	}
	if *data {
		if *db || len(paths) > 0 {
			return a.errorf("check: --data checks the configured rule sets' facts; give it without --db and without rule files")
		}
		v, err := pickView(ff, a.stdout, views.NewQuality)
		if err != nil {
			return a.errorf("check: %v", err)
		}
		asOf, err := a.asOfFlag(*asOfFlag)
		if err != nil {
			return a.errorf("check: --as-of: %v", err)
		}
		return a.checkData(ctx, df, asOf, *quiet, v)
	}
	name, err := ff.name()
	if err != nil {
		return a.errorf("check: %v", err)
	}
	if *db {
		if name != "text" {
			return a.errorf("check: --format is for rule files and for --data; check --db prints text")
		}
		return a.checkDB(ctx, df)
	}
	format, err := views.ParseCheckFormat(name)
	if err != nil {
		return a.errorf("check: %v", err)
	}
	if len(paths) == 0 {
		return a.errorf("check: name at least one rule file or directory (e.g. tierflow check rules/)")
	}
	if *explainSQL && format != views.Text {
		return a.errorf("check: --explain-sql prints text; give it without --format")
	}
	return a.checkFiles(paths, *strict, *explainSQL, format, df)
}

// checkFiles checks rule files and prints what it found in format: text
// (errors on stderr, one line per rule set on stdout), or a JSON or
// SARIF document, or GitHub workflow commands, on stdout. The exit
// status does not depend on the format.
func (a *app) checkFiles(paths []string, strict, explainSQL bool, format views.Format, df dbFlags) int {
	loaded := rules.LoadFiles(paths, ruleOptions())
	var files []string
	for _, rs := range loaded.RuleSets {
		files = append(files, rs.File)
	}
	undeclared, err := undeclaredDestinations(*df.config, files)
	if err != nil {
		return a.errorf("check: %v", err)
	}
	dir, _ := os.Getwd()
	run := &views.CheckRun{Diagnostics: append(loaded.Diagnostics, undeclared...), RuleSets: loaded.RuleSets,
		Strict: strict, Version: versionString(), Dir: dir}
	switch format {
	case views.Text:
		a.printCheckText(run)
		if explainSQL {
			printExplainSQL(a.stdout, run.RuleSets)
		}
	case views.GitHub:
		// The commands become annotations; the log keeps the summary.
		if err := views.WriteCheck(format, a.stdout, run); err != nil {
			return a.errorf("check: %v", err)
		}
		a.printCheckSummary(run)
	default:
		// The document alone on stdout; the errors in words on stderr,
		// for the job's log.
		printDiagnostics(a.stderr, run.Diagnostics)
		if err := views.WriteCheck(format, a.stdout, run); err != nil {
			return a.errorf("check: %v", err)
		}
	}
	if run.Failed() {
		return exitFailure
	}
	return exitOK
}

// printCheckText prints the diagnostics on stderr and the summary on
// stdout.
func (a *app) printCheckText(run *views.CheckRun) {
	printDiagnostics(a.stderr, run.Diagnostics)
	a.printCheckSummary(run)
}

// printCheckSummary prints one line per rule set that loaded and the
// counts.
func (a *app) printCheckSummary(run *views.CheckRun) {
	for _, rs := range run.RuleSets {
		fmt.Fprintf(a.stdout, "ok  %s  %s (%s, %s, %s)\n", rs.File, rs.Name,
			plural(len(rs.Segmentations), "segmentation"), plural(len(rs.Actions), "action"), plural(len(rs.Tests), "test case"))
	}
	errs, warns := run.Counts()
	fmt.Fprintf(a.stdout, "%d rule set(s) ok, %s, %s\n", len(run.RuleSets), plural(errs, "error"), plural(warns, "warning"))
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

// checkDB checks every configured rule set against its facts sources.
func (a *app) checkDB(ctx context.Context, df dbFlags) int {
	if err := defaultConfigExists(*df.config); err != nil {
		return a.errorf("check: %v", err)
	}
	undeclared, err := undeclaredDestinations(*df.config, nil)
	if err != nil {
		return a.errorf("check: %v", err)
	}
	if len(undeclared) > 0 {
		printDiagnostics(a.stderr, undeclared)
		return a.errorf("check: rule files deliver actions to destinations the config does not declare; fix them first")
	}
	_, w, sets, err := a.openDB(ctx, df)
	if err != nil {
		return a.errorf("check: %v", err)
	}
	defer w.Close()
	failed := false
	for _, set := range sets {
		ss := w.sources(set.rs.Name)
		for i := range ss {
			ok, err := a.checkSource(ctx, set, ss, i)
			if err != nil {
				return a.errorf("check: %s", w.Redact(err.Error()))
			}
			failed = failed || !ok
		}
		ok, err := a.checkTransactions(ctx, set, ss)
		if err != nil {
			return a.errorf("check: %s", w.Redact(err.Error()))
		}
		failed = failed || !ok
	}
	if failed {
		return exitFailure
	}
	return exitOK
}

// checkSource checks source i of ss against the facts it provides to the
// configured rule set, printing the outcome; ok is false when it does not
// provide them.
func (a *app) checkSource(ctx context.Context, set configured, ss jobs.Sources, i int) (ok bool, err error) {
	who := set.rs.Name
	if len(ss) > 1 {
		who += " source " + ss[i].Name
	}
	checker, can := ss[i].Facts.(factsChecker)
	if !can {
		fmt.Fprintf(a.stdout, "--  %s: its source (%s) cannot be checked before a run\n", who, set.cfg.Sources[i].label())
		return true, nil
	}
	sub := ss.RuleSetFor(set.rs, i)
	problems, err := checker.CheckFacts(ctx, sub)
	if err != nil {
		return false, err
	}
	if len(problems) == 0 {
		facts := "all " + plural(len(sub.Facts.Fields), "fact")
		if len(sub.Facts.Fields) == 1 {
			facts = "its fact " + sub.Facts.Fields[0].Name
		}
		fmt.Fprintf(a.stdout, "ok  %s: the facts source provides the key and %s\n", who, facts)
		return true, nil
	}
	for _, p := range problems {
		fmt.Fprintf(a.stderr, "%s: %s: %s\n", set.rs.File, who, p)
	}
	return false, nil
}

// checkTransactions checks the transactions source of the configured
// rule set, when it has one, against the columns its derived facts read
// (the key, time, amount and any quantity and category: the rule file's
// transactions:), printing the outcome; ok is false when it lacks them.
func (a *app) checkTransactions(ctx context.Context, set configured, ss jobs.Sources) (ok bool, err error) {
	txRS := jobs.TransactionsRuleSet(set.rs)
	if len(ss) == 0 || ss[0].Transactions == nil || txRS == nil {
		return true, nil
	}
	who := set.rs.Name + " transactions"
	checker, can := ss[0].Transactions.(factsChecker)
	if !can {
		fmt.Fprintf(a.stdout, "--  %s: its source cannot be checked before a run\n", who)
		return true, nil
	}
	problems, err := checker.CheckFacts(ctx, txRS)
	if err != nil {
		return false, err
	}
	for _, p := range problems {
		fmt.Fprintf(a.stderr, "%s: %s: %s (the columns come from transactions: in the rule file)\n", set.rs.File, who, p)
	}
	if len(problems) == 0 {
		names := []string{txRS.Key}
		for _, f := range txRS.Facts.Fields {
			names = append(names, f.Name)
		}
		fmt.Fprintf(a.stdout, "ok  %s: the transactions source provides %s\n", who, strings.Join(names, ", "))
	}
	return len(problems) == 0, nil
}

// checkData runs the data-quality checks of every configured rule set (or
// the one --ruleset names) against its sources, as of asOf, and renders
// them with v. It fails when a check fails or a source cannot be read.
func (a *app) checkData(ctx context.Context, df dbFlags, asOf time.Time, quiet bool, v views.Quality) int {
	_, w, sets, err := a.openDB(ctx, df)
	if err != nil {
		return a.errorf("check: %v", err)
	}
	defer w.Close()
	failed := false
	for _, set := range sets {
		opts := jobs.Options{AsOf: asOf, Now: a.now}
		var prog *progress
		if !quiet {
			prog = a.newProgress(set.rs.Name)
			opts.Progress = prog.update
		}
		q, err := jobs.CheckData(ctx, w.state, w.facts, set.rs, opts)
		prog.finish()
		if err != nil {
			msg := w.Redact(err.Error())
			fmt.Fprintf(a.stderr, "tierflow: check %s: %s\n", set.rs.Name, msg)
			failed = true
			if err := v.Failed(set.rs.Name, msg); err != nil {
				return a.errorf("check: %v", err)
			}
			continue
		}
		failed = failed || q.Failed
		if err := v.Report(set.rs.Name, set.rs.Label, asOf, q); err != nil {
			return a.errorf("check: %v", err)
		}
	}
	if err := v.Close(); err != nil {
		return a.errorf("check: %v", err)
	}
	if failed {
		return exitFailure
	}
	return exitOK
}
