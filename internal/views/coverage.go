package views

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// CoverageRun is one rule set's coverage (覆盖率) after one run, as
// tierflow coverage shows it: the coverage section of the report stored
// with the run.
type CoverageRun struct {
	RuleSet      string
	RuleSetLabel string
	// RunID and AsOf are the run's; RunID is 0 when the rule set has no
	// succeeded apply to read.
	RunID int64
	AsOf  time.Time
	// Coverage is the report's coverage, empty when no segment declared a
	// target at that run.
	Coverage []jobs.CoverageReport
}

// coverageHelp says how to declare a coverage target, for the empty
// state.
const coverageHelp = "No segment declares a coverage target. Give a segment one in its rule file, such as\n" +
	"  coverage: {every: 28d, by: [vip_care_visit], counts: [reached]}\n" +
	"(how often each customer must be reached, by which actions, with which outcomes;\n" +
	"docs/follow-ups.md), then apply: each apply records the coverage it finds.\n"

const coverageHelpMarkdown = "_No segment declares a coverage target._ Give a segment one in its rule file, such as " +
	"`coverage: {every: 28d, by: [vip_care_visit], counts: [reached]}` (how often each customer must be reached, " +
	"by which actions, with which outcomes; docs/follow-ups.md), then apply: each apply records the coverage it finds.\n"

// needsHelp reports whether to say how to declare a coverage target: no
// run read has one, and some rule set has a run (one without is
// explained on its own).
func needsHelp(runs []CoverageRun) bool {
	ran := false
	for _, r := range runs {
		if len(r.Coverage) > 0 {
			return false
		}
		ran = ran || r.RunID != 0
	}
	return ran
}

// everyText shows a target's window: "28d".
func everyText(days int) string { return strconv.Itoa(days) + "d" }

// shareText shows a target's covered share as a percentage: "66.67%";
// "-" when no customer is due.
func shareText(c jobs.CoverageReport) string {
	if c.Due == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", c.Share*100)
}

// coveredBy shows what covers: "vip_care_visit (reached, converted)".
func coveredBy(c jobs.CoverageReport) string {
	s := strings.Join(c.By, ", ")
	if len(c.Counts) > 0 {
		s += " (" + strings.Join(c.Counts, ", ") + ")"
	}
	return s
}

// writeCoverageText writes the coverage table, each line after indent.
func writeCoverageText(w io.Writer, indent string, cov []jobs.CoverageReport) {
	t := newColumns([]string{"segmentation", "segment", "every", "due", "covered", "pending", "overdue", "share", "covered by"},
		"every", "due", "covered", "pending", "overdue", "share")
	for _, c := range cov {
		t.add(c.Segmentation, labelled(c.Segment, c.Label), everyText(c.EveryDays), Thousands(c.Due), Thousands(c.Covered),
			Thousands(c.Pending), Thousands(c.Overdue), shareText(c), coveredBy(c))
	}
	t.write(w, indent)
}

// markdownCoverage renders the coverage table.
func markdownCoverage(cov []jobs.CoverageReport) string {
	var rows []string
	for _, c := range cov {
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s | %s | %s | %s | %s | %s |", md(c.Segmentation), md(labelled(c.Segment, c.Label)),
			everyText(c.EveryDays), Thousands(c.Due), Thousands(c.Covered), Thousands(c.Pending), Thousands(c.Overdue),
			shareText(c), md(coveredBy(c))))
	}
	return table("| segmentation | segment | every | due | covered | pending | overdue | share | covered by |",
		"|---|---|--:|--:|--:|--:|--:|--:|---|", rows)
}

func (v tableText) Coverage(runs []CoverageRun) error {
	return flush(v.w, func(b *bytes.Buffer) {
		for i, r := range runs {
			if i > 0 {
				b.WriteString("\n")
			}
			name := labelled(r.RuleSet, r.RuleSetLabel)
			switch {
			case r.RunID == 0:
				fmt.Fprintf(b, "rule set %s: no succeeded apply yet, so no coverage recorded (tierflow apply records it)\n", name)
			case len(r.Coverage) == 0:
				fmt.Fprintf(b, "rule set %s: no coverage targets at run %d, as of %s\n", name, r.RunID, formatValue(r.AsOf))
			default:
				fmt.Fprintf(b, "Coverage of rule set %s after run %d, as of %s\n", name, r.RunID, formatValue(r.AsOf))
				writeCoverageText(b, "  ", r.Coverage)
			}
		}
		if needsHelp(runs) {
			b.WriteString("\n" + coverageHelp)
		}
	})
}

func (v tableMarkdown) Coverage(runs []CoverageRun) error {
	var b strings.Builder
	for _, r := range runs {
		name := mdName(r.RuleSet, r.RuleSetLabel)
		switch {
		case r.RunID == 0:
			fmt.Fprintf(&b, "### Coverage: %s\n\n_No succeeded apply yet, so no coverage recorded._\n\n", name)
		case len(r.Coverage) == 0:
			fmt.Fprintf(&b, "### Coverage: %s\n\n_No coverage targets at run %d, as of %s._\n\n", name, r.RunID, formatValue(r.AsOf))
		default:
			fmt.Fprintf(&b, "### Coverage: %s\n\nAfter run %d, as of %s.\n\n", name, r.RunID, formatValue(r.AsOf))
			b.WriteString(markdownCoverage(r.Coverage))
		}
	}
	if needsHelp(runs) {
		b.WriteString(coverageHelpMarkdown)
	}
	_, err := io.WriteString(v.w, b.String())
	return err
}

// coverageRunJSON is one rule set in coverage's JSON document
// (docs/output.md).
type coverageRunJSON struct {
	RuleSet      string                `json:"ruleset"`
	RuleSetLabel string                `json:"ruleset_label,omitempty"`
	RunID        *int64                `json:"run_id"`
	AsOf         *time.Time            `json:"as_of"`
	Coverage     []jobs.CoverageReport `json:"coverage"`
}

func (v tableJSON) Coverage(runs []CoverageRun) error {
	out := make([]coverageRunJSON, len(runs))
	for i, r := range runs {
		out[i] = coverageRunJSON{RuleSet: r.RuleSet, RuleSetLabel: r.RuleSetLabel, Coverage: r.Coverage}
		if r.RunID != 0 {
			out[i].RunID, out[i].AsOf = &r.RunID, &r.AsOf
		}
		if out[i].Coverage == nil {
			out[i].Coverage = []jobs.CoverageReport{}
		}
		for k, c := range out[i].Coverage {
			if c.By == nil || c.Counts == nil {
				c.By, c.Counts = orEmpty(c.By), orEmpty(c.Counts)
				out[i].Coverage[k] = c
			}
		}
	}
	return writeJSON(v.w, struct {
		FormatVersion int               `json:"format_version"`
		RuleSets      []coverageRunJSON `json:"rulesets"`
	}{FormatVersion, out})
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// coverageCSVHeader names coverage's CSV columns: one row per coverage
// target.
var coverageCSVHeader = []string{"ruleset", "run_id", "as_of", "segmentation", "segment", "label", "every_days", "by", "counts",
	"due", "covered", "pending", "overdue", "share"}

func (v tableCSV) Coverage(runs []CoverageRun) error {
	rows := [][]string{coverageCSVHeader}
	for _, r := range runs {
		for _, c := range r.Coverage {
			rows = append(rows, []string{r.RuleSet, itoa(r.RunID), csvTime(r.AsOf), c.Segmentation, c.Segment, c.Label,
				strconv.Itoa(c.EveryDays), strings.Join(c.By, "; "), strings.Join(c.Counts, "; "), strconv.Itoa(c.Due),
				strconv.Itoa(c.Covered), strconv.Itoa(c.Pending), strconv.Itoa(c.Overdue), csvFloat(c.Share)})
		}
	}
	return writeCSV(v.w, rows)
}

func csvFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
