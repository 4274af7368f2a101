package views

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// qualityMarkdown writes each rule set's report as a heading and tables.
type qualityMarkdown struct{ w io.Writer }

func (v *qualityMarkdown) Report(ruleSet, label string, asOf time.Time, q *jobs.QualityReport) error {
	_, err := io.WriteString(v.w, markdownQuality(mdName(ruleSet, label), asOf, q))
	return err
}

func (v *qualityMarkdown) Failed(ruleSet, message string) error {
	_, err := fmt.Fprintf(v.w, "### tierflow check --data: `%s`\n\n> **Could not check:** %s\n\n", md(ruleSet), md(message))
	return err
}

func (v *qualityMarkdown) Close() error { return nil }

// markdownQuality renders check --data's report of one rule set: the
// verdict and failed checks first, then the tables.
func markdownQuality(name string, asOf time.Time, q *jobs.QualityReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### tierflow check --data: %s\n\n", name)
	failed := failedChecks(q)
	switch {
	case len(q.Checks) == 0:
		fmt.Fprintf(&b, "As of %s: no checks declared.\n\n", formatValue(asOf))
	case len(failed) > 0:
		fmt.Fprintf(&b, "As of %s: **%d of %s failed**; %s.\n\n", formatValue(asOf), len(failed), plural(len(q.Checks), "check"), md(refusal(q)))
	default:
		fmt.Fprintf(&b, "As of %s: **%s passed**.\n\n", formatValue(asOf), plural(len(q.Checks), "check"))
	}
	for _, c := range failed {
		b.WriteString(mdCheckQuote(c))
	}
	var rows []string
	for i, s := range q.Sources {
		unmatched := Thousands(int(s.Unmatched))
		if i == 0 {
			unmatched = "-"
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", md(s.Name), Thousands(int(s.Rows)), Thousands(int(s.Customers)),
			Thousands(int(s.Duplicates)), unmatched, md(orDash(s.Newest))))
	}
	b.WriteString(table("| source | rows | customers | duplicates | unmatched | newest |", "|---|--:|--:|--:|--:|---|", rows))
	rows = nil
	for _, f := range q.Facts {
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s | %s |", md(f.Name), md(f.Source),
			Thousands(int(f.Nulls)), Thousands(int(f.Invalid)), Thousands(int(f.Violations))))
	}
	if len(rows) > 0 {
		b.WriteString(table("| fact | source | nulls | invalid | violations |", "|---|---|--:|--:|--:|", rows))
	}
	fmt.Fprintf(&b, "**Absent:** %s.\n\n", md(absentText(q)))
	rows = nil
	for _, c := range q.Checks {
		verdict := "pass"
		if !c.Passed {
			verdict = "**FAIL**"
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s |", md(c.Check), verdict, md(c.Message), md(strings.Join(examples(c), "; "))))
	}
	if len(rows) > 0 {
		b.WriteString(table("| check | result | message | examples |", "|---|---|---|---|", rows))
	}
	return b.String()
}

// mdCheckQuote shows a failed check as a quote, with its examples.
func mdCheckQuote(c jobs.CheckResult) string {
	s := fmt.Sprintf("> **Check failed:** `%s`: %s\n", md(c.Check), md(c.Message))
	for _, e := range examples(c) {
		s += fmt.Sprintf(">\n> e.g. %s\n", md(e))
	}
	return s + "\n"
}

// markdownPlanQuality is the brief quality section of a plan or apply:
// the sources when there are several, or duplicates or absent customers,
// and the failed checks no guard reason states.
func markdownPlanQuality(q *jobs.QualityReport, reasons []string) string {
	var b strings.Builder
	if _, rest := checksFor(reasons, q); len(rest) > 0 {
		b.WriteString("Data-quality checks failed, let through by `--allow-failed-checks`:\n\n")
		for _, c := range rest {
			b.WriteString(mdCheckQuote(c))
		}
	}
	if showSources(q) {
		var rows []string
		for i, s := range q.Sources {
			rows = append(rows, fmt.Sprintf("| %s | %s |", md(s.Name), md(sourceText(s, i == 0))))
		}
		b.WriteString("#### Facts sources\n\n" + table("| source | rows |", "|---|---|", rows))
		if q.Absent > 0 {
			fmt.Fprintf(&b, "**Absent:** %s.\n\n", md(absentText(q)))
		}
	}
	return b.String()
}

// markdownGuard quotes a guard's reasons, each failed data-quality check
// with its examples under the reason that states it.
func markdownGuard(mode string, reasons []string, q *jobs.QualityReport) string {
	under, _ := checksFor(reasons, q)
	var b strings.Builder
	for i, reason := range reasons {
		fmt.Fprintf(&b, "> **Guard %s:** %s\n", guardVerb(mode), md(reason))
		for _, c := range under[i] {
			for _, e := range examples(c) {
				fmt.Fprintf(&b, ">\n> e.g. %s\n", md(e))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
