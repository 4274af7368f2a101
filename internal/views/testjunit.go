package views

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/engine/ruletest"
	"github.com/tierflow/tierflow/rules"
)

// junitSuites is a JUnit XML report as test-report tools (GitLab's
// artifacts:reports:junit, Jenkins, test reporters of GitHub Actions)
// read it: one testsuite per rule file. Cases take no measurable time,
// so times are 0.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	File       string          `xml:"file,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

// junitProblem is a <failure> (an expectation not met) or an <error> (a
// rule file that does not load): a one-line message, a type and the
// full text.
type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func writeJUnit(w io.Writer, run *TestRun) error {
	doc := junitSuites{Name: "tierflow test", Time: "0"}
	for _, file := range filesWithErrors(run.Diagnostics) {
		doc.Suites = append(doc.Suites, loadErrorSuite(file, run.Diagnostics))
	}
	for i := range run.RuleSets {
		doc.Suites = append(doc.Suites, newJUnitSuite(&run.RuleSets[i]))
	}
	for _, s := range doc.Suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s%s\n", xml.Header, out)
	return err
}

// newJUnitSuite is one rule set's cases, with its coverage as properties
// and, under --min-coverage, a "rule coverage" case that fails when the
// coverage is too low.
func newJUnitSuite(t *TestRuleSet) junitSuite {
	rep := t.Report
	rs := rep.RuleSet
	s := junitSuite{Name: rs.Name, File: rs.File, Time: "0", Properties: []junitProperty{
		{"file", rs.File},
		{"coverage_percent", strconv.FormatFloat(percent(rep.CoveragePercent()), 'f', -1, 64)},
		{"rules", strconv.Itoa(len(rep.Coverage))},
		{"rules_covered", strconv.Itoa(len(rep.Coverage) - len(rep.Uncovered()))},
		{"uncovered", strings.Join(rep.Uncovered(), ", ")},
	}}
	for i := range rep.Cases {
		s.Cases = append(s.Cases, newJUnitCase(rs, &rep.Cases[i]))
	}
	if t.judges() {
		s.Properties = append(s.Properties, junitProperty{"min_coverage", strconv.FormatFloat(t.MinCoverage, 'f', -1, 64)})
		c := junitCase{Name: "rule coverage", ClassName: rs.Name, File: rs.File, Time: "0"}
		if !t.CoverageMet() {
			msg := fmt.Sprintf("coverage %.0f%% is below --min-coverage %.0f%%", rep.CoveragePercent(), t.MinCoverage)
			c.Failure = &junitProblem{Message: msg, Type: "coverage",
				Text: msg + "\nnever matched by a case: " + strings.Join(rep.Uncovered(), ", ") + "\n"}
		}
		s.Cases = append(s.Cases, c)
	}
	for _, c := range s.Cases {
		s.Tests++
		if c.Failure != nil {
			s.Failures++
		}
	}
	return s
}

func newJUnitCase(rs *rules.RuleSet, cr *ruletest.CaseResult) junitCase {
	c := junitCase{Name: cr.Case.Name, ClassName: rs.Name, File: cr.Case.Pos.File, Line: cr.Case.Pos.Line, Time: "0"}
	if !cr.Passed() {
		c.Failure = &junitProblem{Message: cr.Failures[0], Type: "expectation", Text: failureText(cr)}
	}
	return c
}

// filesWithErrors lists the files that have errors, in order.
func filesWithErrors(ds []rules.Diagnostic) []string {
	var files []string
	seen := map[string]bool{}
	for _, d := range ds {
		if d.Severity == rules.SeverityError && !seen[d.Pos.File] {
			seen[d.Pos.File] = true
			files = append(files, d.Pos.File)
		}
	}
	return files
}

// loadErrorSuite is a rule file that did not load: one case with an
// <error> listing every error of the file.
func loadErrorSuite(file string, ds []rules.Diagnostic) junitSuite {
	var text strings.Builder
	n := 0
	for _, d := range ds {
		if d.Severity == rules.SeverityError && d.Pos.File == file {
			n++
			text.WriteString(d.String() + "\n\n")
		}
	}
	msg := fmt.Sprintf("%d error(s) in the rule file; no case ran", n)
	return junitSuite{Name: file, File: file, Tests: 1, Errors: 1, Time: "0", Cases: []junitCase{{
		Name: "load", ClassName: file, File: file, Time: "0",
		Error: &junitProblem{Message: msg, Type: "rule file", Text: text.String()},
	}}}
}
