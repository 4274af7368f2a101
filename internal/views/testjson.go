package views

import (
	"github.com/tierflow/tierflow/engine/ruletest"
)

// testJSON is tierflow test --format json (docs/output.md).
type testJSON struct {
	FormatVersion int              `json:"format_version"`
	Failed        bool             `json:"failed"`
	Cases         int              `json:"cases"`
	FailedCases   int              `json:"failed_cases"`
	RuleSets      []testRuleSet    `json:"rulesets"`
	Diagnostics   []diagnosticJSON `json:"diagnostics"`
}

// testRuleSet is one rule file's cases and coverage.
type testRuleSet struct {
	RuleSet     string         `json:"ruleset"`
	File        string         `json:"file"`
	Failed      bool           `json:"failed"`
	Cases       int            `json:"cases"`
	FailedCases int            `json:"failed_cases"`
	Coverage    coverageFigure `json:"coverage"`
	Tests       []testCaseJSON `json:"tests"`
}

// coverageFigure is a rule set's rule coverage; MinPercent and Met are
// null when it is not judged (no --min-coverage, or --run).
type coverageFigure struct {
	Percent    float64       `json:"percent"`
	Rules      int           `json:"rules"`
	Covered    int           `json:"covered"`
	Uncovered  []string      `json:"uncovered"`
	ByRule     []ruleMatched `json:"by_rule"`
	MinPercent *float64      `json:"min_percent"`
	Met        *bool         `json:"met"`
}

// ruleMatched is how many cases matched one rule.
type ruleMatched struct {
	Rule  string `json:"rule"`
	Cases int    `json:"cases"`
}

// testCaseJSON is one case's outcome; a failing case has the failures,
// the params the rules read (empty for a passing case) and the trace.
type testCaseJSON struct {
	Name     string      `json:"name"`
	File     string      `json:"file"`
	Line     int         `json:"line"`
	Column   int         `json:"column"`
	Passed   bool        `json:"passed"`
	Failures []string    `json:"failures"`
	Params   []paramJSON `json:"params"`
	Trace    *traceJSON  `json:"trace,omitempty"`
}

// paramJSON is a param and its value.
type paramJSON struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

func newTestJSON(run *TestRun) testJSON {
	cases, failed := run.counts()
	doc := testJSON{FormatVersion: FormatVersion, Failed: run.Failed(), Cases: cases, FailedCases: failed,
		RuleSets: []testRuleSet{}, Diagnostics: newDiagnosticsJSON(run.Diagnostics)}
	for i := range run.RuleSets {
		doc.RuleSets = append(doc.RuleSets, newTestRuleSetJSON(&run.RuleSets[i]))
	}
	return doc
}

func newTestRuleSetJSON(t *TestRuleSet) testRuleSet {
	rep := t.Report
	out := testRuleSet{RuleSet: rep.RuleSet.Name, File: rep.RuleSet.File, Failed: t.Failed(),
		Cases: len(rep.Cases), FailedCases: rep.Failed(), Coverage: newCoverageFigure(t), Tests: []testCaseJSON{}}
	for i := range rep.Cases {
		out.Tests = append(out.Tests, newTestCaseJSON(rep, &rep.Cases[i]))
	}
	return out
}

func newCoverageFigure(t *TestRuleSet) coverageFigure {
	rep := t.Report
	uncovered := rep.Uncovered()
	c := coverageFigure{Percent: percent(rep.CoveragePercent()), Rules: len(rep.Coverage),
		Covered: len(rep.Coverage) - len(uncovered), Uncovered: uncovered, ByRule: []ruleMatched{}}
	if c.Uncovered == nil {
		c.Uncovered = []string{}
	}
	for _, rc := range rep.Coverage {
		c.ByRule = append(c.ByRule, ruleMatched{Rule: rc.Rule, Cases: rc.Matched})
	}
	if t.judges() {
		minimum, met := t.MinCoverage, t.CoverageMet()
		c.MinPercent, c.Met = &minimum, &met
	}
	return c
}

func newTestCaseJSON(rep *ruletest.Report, cr *ruletest.CaseResult) testCaseJSON {
	tc := testCaseJSON{Name: cr.Case.Name, File: cr.Case.Pos.File, Line: cr.Case.Pos.Line, Column: cr.Case.Pos.Col,
		Passed: cr.Passed(), Failures: cr.Failures, Params: []paramJSON{}}
	if tc.Failures == nil {
		tc.Failures = []string{}
	}
	if cr.Passed() {
		return tc
	}
	for _, p := range cr.Params {
		tc.Params = append(tc.Params, paramJSON{Name: p.Name, Value: p.Value})
	}
	if cr.Trace != nil {
		tr := newTraceJSON(rep.RuleSet, cr.Trace)
		tc.Trace = &tr
	}
	return tc
}
