package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/tierflow/tierflow/engine/ruletest"
	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/rules"
)

const testUsage = `
Usage: tierflow test [flags] PATH...

Runs the test cases of each rule set: the tests: list in the rule file and
the cases in NAME_test.yaml beside it. A failing case is shown with the
full explanation of how the customer was classified. Coverage counts the
segments and actions at least one case matched; --min-coverage makes low
coverage fail the run, which keeps new rules tested in CI. A failing case
also lists the params its rules read, as name = value.

--format json prints every case of every rule file, passed or failed,
with the failures, params and trace of the failing ones, and the
coverage figures; --format junit prints JUnit XML, one testsuite per
rule file with its coverage as properties, for test-report tools
(docs/output.md).

Exit status: 0 when every case passes (and coverage is met), 1 otherwise,
whatever the format.

Examples:
  tierflow test examples
  tierflow test -v examples/retail             # list every case
  tierflow test --run 'win-back' examples      # only cases whose name matches
  tierflow test --min-coverage 90 rules/       # CI: fail below 90% rule coverage
  tierflow test --format junit rules/ > tierflow-tests.xml   # GitLab: artifacts:reports:junit
  tierflow test --format json rules/ | jq '.rulesets[].coverage.percent'
`

func runTest(_ context.Context, a *app, args []string) int {
	fs := a.flagSet("test", testUsage)
	verbose := fs.Bool("v", false, "list every case, not only failures")
	runRE := fs.String("run", "", "run only cases whose name matches this regular expression")
	minCoverage := fs.Float64("min-coverage", 0, "fail when a rule set's coverage is below this `percent`")
	format := fs.String("format", "text", "output `format`: text, json or junit (docs/output.md)")
	paths, code, ok := a.parse(fs, args)
	if !ok {
		return code
	}
	f, err := views.ParseTestFormat(*format)
	if err != nil {
		return a.errorf("test: %v", err)
	}
	if len(paths) == 0 {
		return a.errorf("test: name at least one rule file or directory (e.g. tierflow test rules/)")
	}
	var filter *regexp.Regexp
	if *runRE != "" {
		re, err := regexp.Compile(*runRE)
		if err != nil {
			return a.errorf("test: --run: %v", err)
		}
		filter = re
	}
	loaded := rules.LoadFiles(paths, ruleOptions())
	run := &views.TestRun{Diagnostics: loaded.Diagnostics}
	for _, rs := range loaded.RuleSets {
		if filter != nil {
			if rs = withTests(rs, filter); len(rs.Tests) == 0 {
				continue
			}
		}
		run.RuleSets = append(run.RuleSets, views.TestRuleSet{Report: ruletest.Run(rs), MinCoverage: *minCoverage, Judged: filter == nil})
	}
	if f == views.Text {
		a.printTestText(run, *verbose, filter != nil)
	} else {
		// The document alone on stdout; load errors in words on stderr.
		printDiagnostics(a.stderr, run.Diagnostics)
		if err := views.WriteTests(f, a.stdout, run); err != nil {
			return a.errorf("test: %v", err)
		}
	}
	if run.Failed() {
		return exitFailure
	}
	return exitOK
}

// printTestText prints the load errors on stderr, then each failing case
// (every case with verbose) with what differed, the params its rules
// read and how it was classified, and per rule set the cases passed and
// the coverage; filtered (--run) leaves coverage unjudged.
func (a *app) printTestText(run *views.TestRun, verbose, filtered bool) {
	printDiagnostics(a.stderr, run.Diagnostics)
	total, passed := 0, 0
	for i := range run.RuleSets {
		t := &run.RuleSets[i]
		rep, rs := t.Report, t.Report.RuleSet
		for i := range rep.Cases {
			cr := &rep.Cases[i]
			total++
			if cr.Passed() {
				passed++
				if verbose {
					fmt.Fprintf(a.stdout, "--- PASS: %s / %s\n", rs.Name, cr.Case.Name)
				}
				continue
			}
			a.printFailedCase(rs, cr)
		}
		status := "ok"
		if rep.Failed() > 0 {
			status = "FAIL"
		}
		cov := rep.CoveragePercent()
		fmt.Fprintf(a.stdout, "%-4s %s: %d/%d cases passed, rule coverage %.0f%% (%d rules)\n",
			status, rs.Name, len(rep.Cases)-rep.Failed(), len(rep.Cases), cov, len(rep.Coverage))
		if un := rep.Uncovered(); len(un) > 0 && !filtered {
			fmt.Fprintf(a.stdout, "     never matched by a case: %s\n", strings.Join(un, ", "))
		}
		if !t.CoverageMet() {
			fmt.Fprintf(a.stdout, "FAIL %s: coverage %.0f%% is below --min-coverage %.0f%%; add cases that match the rules above\n", rs.Name, cov, t.MinCoverage)
		}
	}
	fmt.Fprintf(a.stdout, "%d/%d cases passed in %s\n", passed, total, plural(len(run.RuleSets), "rule set"))
}

// printFailedCase prints a failing case: what differed, the params its
// rules read (name = value) and how the customer was classified.
func (a *app) printFailedCase(rs *rules.RuleSet, cr *ruletest.CaseResult) {
	fmt.Fprintf(a.stdout, "--- FAIL: %s / %s (%s)\n", rs.Name, cr.Case.Name, cr.Case.Pos)
	for _, f := range cr.Failures {
		fmt.Fprintf(a.stdout, "    %s\n", f)
	}
	if len(cr.Params) > 0 {
		fmt.Fprintf(a.stdout, "    params: %s\n", views.ParamsText(cr.Params))
	}
	if cr.Trace != nil {
		fmt.Fprintln(a.stdout, "    how it was classified:")
		printTrace(indent(a.stdout, "      "), rs, cr.Trace)
	}
}

// withTests returns a copy of rs that keeps only the matching cases.
func withTests(rs *rules.RuleSet, re *regexp.Regexp) *rules.RuleSet {
	cp := *rs
	cp.Tests = nil
	for _, tc := range rs.Tests {
		if re.MatchString(tc.Name) {
			cp.Tests = append(cp.Tests, tc)
		}
	}
	return &cp
}
