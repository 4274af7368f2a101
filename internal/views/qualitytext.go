package views

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// qualityText writes each rule set's report as it comes, for a terminal.
type qualityText struct{ w io.Writer }

func (v *qualityText) Report(ruleSet, label string, asOf time.Time, q *jobs.QualityReport) error {
	return flush(v.w, func(b *bytes.Buffer) { writeQualityText(b, labelled(ruleSet, label), asOf, q) })
}

func (v *qualityText) Failed(string, string) error { return nil }

func (v *qualityText) Close() error { return nil }

// writeQualityText writes check --data's report of one rule set: the
// sources' and facts' counts as tables, absent customers, then every
// check, failed first, with examples.
func writeQualityText(w io.Writer, name string, asOf time.Time, q *jobs.QualityReport) {
	fmt.Fprintf(w, "Data quality of rule set %s as of %s\n\n", name, formatValue(asOf))
	srcW := len("source")
	for _, s := range q.Sources {
		srcW = max(srcW, displayWidth(s.Name))
	}
	const num = "  %10s  %10s  %10s  %10s  %s\n"
	fmt.Fprintf(w, "  %s"+num, pad("source", srcW), "rows", "customers", "duplicates", "unmatched", "newest")
	for i, s := range q.Sources {
		unmatched := Thousands(int(s.Unmatched))
		if i == 0 {
			unmatched = "-" // the primary source's customers are the run's
		}
		fmt.Fprintf(w, "  %s"+num, pad(s.Name, srcW), Thousands(int(s.Rows)), Thousands(int(s.Customers)),
			Thousands(int(s.Duplicates)), unmatched, orDash(s.Newest))
	}
	factW, fsrcW := len("fact"), len("source")
	for _, f := range q.Facts {
		factW, fsrcW = max(factW, displayWidth(f.Name)), max(fsrcW, displayWidth(f.Source))
	}
	if len(q.Facts) > 0 {
		fmt.Fprintf(w, "\n  %s  %s  %10s  %10s  %10s\n", pad("fact", factW), pad("source", fsrcW), "nulls", "invalid", "violations")
		for _, f := range q.Facts {
			fmt.Fprintf(w, "  %s  %s  %10s  %10s  %10s\n", pad(f.Name, factW), pad(f.Source, fsrcW),
				Thousands(int(f.Nulls)), Thousands(int(f.Invalid)), Thousands(int(f.Violations)))
		}
	}
	fmt.Fprintf(w, "\n  absent: %s\n", absentText(q))
	writeChecksText(w, q)
	fmt.Fprintln(w)
}

// writeChecksText lists every check, failed first, with its examples,
// and ends with the verdict.
func writeChecksText(w io.Writer, q *jobs.QualityReport) {
	failed := len(failedChecks(q))
	if len(q.Checks) == 0 {
		fmt.Fprintln(w, "\nNo checks declared: add them to the rule file's facts and the config's sources (docs/data-quality.md).")
		return
	}
	fmt.Fprintln(w, "\nchecks:")
	for _, c := range q.Checks {
		verdict := "PASS"
		if !c.Passed {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %s: %s\n", verdict, c.Check, c.Message)
		for _, e := range examples(c) {
			fmt.Fprintf(w, "          e.g. %s\n", e)
		}
	}
	if failed > 0 {
		fmt.Fprintf(w, "\nFAILED: %d of %s failed; %s.\n", failed, plural(len(q.Checks), "check"), refusal(q))
		return
	}
	fmt.Fprintf(w, "\nOK: %s passed.\n", plural(len(q.Checks), "check"))
}

// writePlanQualityText writes the brief quality section of a plan or
// apply: the sources' counts when there are several, or duplicates or
// absent customers, and the failed checks no guard reason states (a run
// let through by --allow-failed-checks). The checks a guard refuses are
// shown under its reasons (writeGuardText).
func writePlanQualityText(w io.Writer, q *jobs.QualityReport, reasons []string) {
	if showSources(q) {
		fmt.Fprintln(w, "\nfacts sources:")
		for i, s := range q.Sources {
			fmt.Fprintf(w, "  %s: %s\n", s.Name, sourceText(s, i == 0))
		}
		if q.Absent > 0 {
			fmt.Fprintf(w, "  absent: %s\n", absentText(q))
		}
	}
	if _, rest := checksFor(reasons, q); len(rest) > 0 {
		fmt.Fprintln(w, "\ndata-quality checks failed (let through by --allow-failed-checks):")
		for _, c := range rest {
			writeCheckText(w, c)
		}
	}
}

// writeGuardText writes a guard's reasons, each failed data-quality check
// with its examples under the reason that states it.
func writeGuardText(w io.Writer, mode string, reasons []string, q *jobs.QualityReport) {
	if len(reasons) == 0 {
		return
	}
	under, _ := checksFor(reasons, q)
	fmt.Fprintf(w, "\nguard %s:\n", guardVerb(mode))
	for i, reason := range reasons {
		fmt.Fprintf(w, "  - %s\n", reason)
		for _, c := range under[i] {
			for _, e := range examples(c) {
				fmt.Fprintf(w, "      e.g. %s\n", e)
			}
		}
	}
}

func writeCheckText(w io.Writer, c jobs.CheckResult) {
	fmt.Fprintf(w, "  - %s: %s\n", c.Check, c.Message)
	for _, e := range examples(c) {
		fmt.Fprintf(w, "      e.g. %s\n", e)
	}
}

// orDash shows an empty cell as -.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
