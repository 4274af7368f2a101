package views

import (
	"bytes"
	"io"
	"math"
	"strings"

	"github.com/tierflow/tierflow/engine/ruletest"
	"github.com/tierflow/tierflow/rules"
)

// TestRun is what tierflow test found, for its machine-readable formats.
type TestRun struct {
	// RuleSets are the rule sets whose cases ran, in order.
	RuleSets []TestRuleSet
	// Diagnostics are the errors and warnings of loading the rule files;
	// a file with errors ran no case.
	Diagnostics []rules.Diagnostic
}

// TestRuleSet is one rule set's cases and rule coverage.
type TestRuleSet struct {
	Report *ruletest.Report
	// MinCoverage is --min-coverage (0: none). Judged is false when --run
	// picked some of the cases: coverage is then not judged.
	MinCoverage float64
	Judged      bool
}

// CoverageMet reports whether the coverage is at least MinCoverage, or
// is not judged.
func (t *TestRuleSet) CoverageMet() bool {
	return !t.judges() || t.Report.CoveragePercent() >= t.MinCoverage
}

func (t *TestRuleSet) judges() bool { return t.Judged && t.MinCoverage > 0 }

// Failed reports whether a case failed or the coverage is too low.
func (t *TestRuleSet) Failed() bool { return t.Report.Failed() > 0 || !t.CoverageMet() }

// Failed reports whether tierflow test fails: a rule file with errors, a
// failing case, or coverage below the minimum.
func (r *TestRun) Failed() bool {
	for _, d := range r.Diagnostics {
		if d.Severity == rules.SeverityError {
			return true
		}
	}
	for i := range r.RuleSets {
		if r.RuleSets[i].Failed() {
			return true
		}
	}
	return false
}

// counts returns the number of cases and of failing ones.
func (r *TestRun) counts() (cases, failed int) {
	for _, t := range r.RuleSets {
		cases += len(t.Report.Cases)
		failed += t.Report.Failed()
	}
	return cases, failed
}

// WriteTests renders run in f: JSON or JUnit XML (text is tierflow
// test's own output).
func WriteTests(f Format, w io.Writer, run *TestRun) error {
	switch f {
	case JSON:
		return writeJSON(w, newTestJSON(run))
	case JUnit:
		return writeJUnit(w, run)
	}
	return parseFormatError(f, testFormats)
}

// ParamsText lists params as `name = value`, separated by commas, for a
// failing case.
func ParamsText(ps []ruletest.ParamValue) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name + " = " + paramValue(p.Value)
	}
	return strings.Join(parts, ", ")
}

func paramValue(v any) string {
	list, ok := v.([]any)
	if !ok {
		return formatValue(v)
	}
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = formatValue(x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// failureText is what tierflow test prints under a failing case: what
// differed, the params read and the trace, without indentation.
func failureText(cr *ruletest.CaseResult) string {
	var b bytes.Buffer
	for _, f := range cr.Failures {
		b.WriteString(f + "\n")
	}
	if len(cr.Params) > 0 {
		b.WriteString("params: " + ParamsText(cr.Params) + "\n")
	}
	if cr.Trace != nil {
		var tr bytes.Buffer
		WriteTrace(&tr, cr.Trace)
		b.WriteString("how it was classified:\n")
		for _, line := range strings.SplitAfter(tr.String(), "\n") {
			if line != "" {
				b.WriteString("  " + line)
			}
		}
	}
	return b.String()
}

// percent rounds a coverage share to two decimals.
func percent(v float64) float64 { return math.Round(v*100) / 100 }
