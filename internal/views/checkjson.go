package views

import "github.com/tierflow/tierflow/rules"

// checkJSON is tierflow check --format json on rule files (docs/output.md).
type checkJSON struct {
	FormatVersion int              `json:"format_version"`
	Failed        bool             `json:"failed"`
	Strict        bool             `json:"strict"`
	Errors        int              `json:"errors"`
	Warnings      int              `json:"warnings"`
	RuleSets      []checkRuleSet   `json:"rulesets"`
	Diagnostics   []diagnosticJSON `json:"diagnostics"`
}

// checkRuleSet is a rule set that loaded.
type checkRuleSet struct {
	File          string `json:"file"`
	RuleSet       string `json:"ruleset"`
	Segmentations int    `json:"segmentations"`
	Actions       int    `json:"actions"`
	TestCases     int    `json:"test_cases"`
}

// diagnosticJSON is one error or warning in a rule file. Line and column
// are 1-based; 0 when unknown.
type diagnosticJSON struct {
	Severity string `json:"severity"`
	Kind     string `json:"kind"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Field    string `json:"field"`
	Message  string `json:"message"`
	Hint     string `json:"hint"`
	Snippet  string `json:"snippet"`
}

func newCheckJSON(run *CheckRun) checkJSON {
	errs, warns := run.Counts()
	doc := checkJSON{
		FormatVersion: FormatVersion, Failed: run.Failed(), Strict: run.Strict, Errors: errs, Warnings: warns,
		RuleSets: []checkRuleSet{}, Diagnostics: newDiagnosticsJSON(run.Diagnostics),
	}
	for _, rs := range run.RuleSets {
		doc.RuleSets = append(doc.RuleSets, checkRuleSet{File: rs.File, RuleSet: rs.Name,
			Segmentations: len(rs.Segmentations), Actions: len(rs.Actions), TestCases: len(rs.Tests)})
	}
	return doc
}

func newDiagnosticsJSON(ds []rules.Diagnostic) []diagnosticJSON {
	out := make([]diagnosticJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, diagnosticJSON{
			Severity: d.Severity.String(), Kind: kindOf(d).ID,
			File: d.Pos.File, Line: d.Pos.Line, Column: d.Pos.Col,
			Field: d.Field, Message: d.Message, Hint: d.Hint, Snippet: d.Snippet,
		})
	}
	return out
}
