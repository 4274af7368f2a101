package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/tierflow/tierflow/engine/ruletest"
	"github.com/tierflow/tierflow/rules"
)

const testUsage = `
Usage: tierflow test [flags] PATH...

Runs the test cases of each rule set: the tests: list in the rule file and
the cases in NAME_test.yaml beside it. A failing case is shown with the
full explanation of how the customer was classified. Coverage counts the
segments and actions at least one case matched; --min-coverage makes low
coverage fail the run, which keeps new rules tested in CI.

Exit status: 0 when every case passes (and coverage is met), 1 otherwise.

Examples:
  tierflow test examples
  tierflow test -v examples/retail             # list every case
  tierflow test --run 'win-back' examples      # only cases whose name matches
  tierflow test --min-coverage 90 rules/       # CI: fail below 90% rule coverage
`

func runTest(_ context.Context, a *app, args []string) int {
	fs := a.flagSet("test", testUsage)
	verbose := fs.Bool("v", false, "list every case, not only failures")
	runRE := fs.String("run", "", "run only cases whose name matches this regular expression")
	minCoverage := fs.Float64("min-coverage", 0, "fail when a rule set's coverage is below this `percent`")
	paths, code, ok := a.parse(fs, args)
	if !ok {
		return code
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
	errs, _ := printDiagnostics(a.stderr, loaded.Diagnostics)
	failed := errs > 0
	total, passed, sets := 0, 0, 0
	for _, rs := range loaded.RuleSets {
		if filter != nil {
			if rs = withTests(rs, filter); len(rs.Tests) == 0 {
				continue
			}
		}
		sets++
		rep := ruletest.Run(rs)
		for i := range rep.Cases {
			cr := &rep.Cases[i]
			total++
			if cr.Passed() {
				passed++
				if *verbose {
					fmt.Fprintf(a.stdout, "--- PASS: %s / %s\n", rs.Name, cr.Case.Name)
				}
				continue
			}
			fmt.Fprintf(a.stdout, "--- FAIL: %s / %s (%s)\n", rs.Name, cr.Case.Name, cr.Case.Pos)
			for _, f := range cr.Failures {
				fmt.Fprintf(a.stdout, "    %s\n", f)
			}
			if cr.Trace != nil {
				fmt.Fprintln(a.stdout, "    how it was classified:")
				printTrace(indent(a.stdout, "      "), rs, cr.Trace)
			}
		}
		status := "ok"
		if rep.Failed() > 0 {
			status, failed = "FAIL", true
		}
		cov := rep.CoveragePercent()
		fmt.Fprintf(a.stdout, "%-4s %s: %d/%d cases passed, rule coverage %.0f%% (%d rules)\n",
			status, rs.Name, len(rep.Cases)-rep.Failed(), len(rep.Cases), cov, len(rep.Coverage))
		if un := rep.Uncovered(); len(un) > 0 && filter == nil {
			fmt.Fprintf(a.stdout, "     never matched by a case: %s\n", strings.Join(un, ", "))
		}
		if *minCoverage > 0 && cov < *minCoverage && filter == nil {
			fmt.Fprintf(a.stdout, "FAIL %s: coverage %.0f%% is below --min-coverage %.0f%%; add cases that match the rules above\n", rs.Name, cov, *minCoverage)
			failed = true
		}
	}
	fmt.Fprintf(a.stdout, "%d/%d cases passed in %s\n", passed, total, plural(sets, "rule set"))
	if failed {
		return exitFailure
	}
	return exitOK
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
