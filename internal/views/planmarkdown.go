package views

import (
	"fmt"

	"github.com/tierflow/tierflow/jobs"
)

// markdownPlan renders a plan or apply report as markdown tables, cut to
// at most budget bytes with a note when cut.
func markdownPlan(r *jobs.PlanReport, budget int) string {
	m := &mdBuilder{budget: budget - 300}
	head := fmt.Sprintf("### tierflow %s: %s\n\n", r.Mode, mdName(r.RuleSet, r.RuleSetLabel))
	head += fmt.Sprintf("As of %s: %s, **%s** change segment, **%s** actions to queue.\n\n",
		formatValue(r.AsOf), customersText(r, "**"), Thousands(r.Changed), Thousands(r.ActionsTotal))
	if r.Initial {
		head += "_Initial run: no customer has a segment yet, so everyone is assigned (the max_moved guard does not apply)._\n\n"
	}
	head += markdownWarnings(r.Quality)
	head += markdownGuard(r.Mode, r.Guard.Reasons, r.Quality)
	head += markdownPlanQuality(r.Quality, r.Guard.Reasons)
	if !r.HasChanges() {
		head += "**No changes.**\n\n"
	}
	m.section(head)
	for _, s := range r.Segmentations {
		m.section(markdownSegmentation(s))
	}
	if len(r.Actions) > 0 {
		m.section(markdownActions(r.Actions))
	}
	if len(r.Coverage) > 0 {
		m.section("#### Coverage\n\n" + markdownCoverage(r.Coverage))
	}
	if r.Errors.Customers > 0 {
		var rows []string
		for _, rule := range sortedKeys(r.Errors.ByRule) {
			rows = append(rows, fmt.Sprintf("| `%s` | %s |", md(rule), Thousands(r.Errors.ByRule[rule])))
		}
		s := fmt.Sprintf("#### Rule errors: %s customers keep their previous segments\n\n", Thousands(r.Errors.Customers)) +
			table("| rule | customers |", "|---|--:|", rows)
		var examples []string
		for _, e := range r.Errors.Examples {
			examples = append(examples, fmt.Sprintf("| %s | `%s` | %s |", md(e.Customer), md(e.Rule), md(e.Message)))
		}
		if len(examples) > 0 {
			s += table("| customer | rule | error |", "|---|---|---|", examples)
		}
		m.section(s)
	}
	if len(r.Samples) > 0 && !r.Initial {
		var rows []string
		for _, s := range r.Samples {
			rows = append(rows, fmt.Sprintf("| %s | `%s` | %s | %s | %s |", md(s.Customer), md(s.Segmentation),
				md(orNone(s.From)), md(orNone(s.To)), md(reasonText(s.Reason))))
		}
		m.section(fmt.Sprintf("<details><summary>Sample moves (%d)</summary>\n\n", len(r.Samples)) +
			table("| customer | segmentation | from | to | reason |", "|---|---|---|---|---|", rows) +
			"`tierflow explain --customer KEY` shows why.\n\n</details>\n\n")
	}
	out := m.b.String()
	if m.cut {
		out += fmt.Sprintf("_Report cut to stay under %d KB; the full report is in `tierflow %s --format json`._\n\n", budget/1000, r.Mode)
	}
	return out
}

// markdownActions renders the actions to queue, with the held-out and
// suppressed columns when some action withheld any.
func markdownActions(actions []jobs.ActionReport) string {
	withheld := false
	for _, a := range actions {
		withheld = withheld || a.HeldOut > 0 || a.Suppressed > 0
	}
	var rows []string
	for _, a := range actions {
		row := fmt.Sprintf("| %s | %s |", md(labelled(a.Name, a.Label)), Thousands(a.Count))
		if withheld {
			row += fmt.Sprintf(" %s | %s |", Thousands(a.HeldOut), Thousands(a.Suppressed))
		}
		rows = append(rows, row)
	}
	if withheld {
		return "#### Actions to queue\n\n" + table("| action | customers | held out | suppressed |", "|---|--:|--:|--:|", rows)
	}
	return "#### Actions to queue\n\n" + table("| action | customers |", "|---|--:|", rows)
}

// markdownSegmentation renders one segmentation's sizes and moves.
func markdownSegmentation(s jobs.SegmentationReport) string {
	var rows []string
	for _, seg := range s.Segments {
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s |", md(labelled(seg.Name, seg.Label)),
			Thousands(seg.Before), Thousands(seg.After), signed(seg.After-seg.Before)))
	}
	out := fmt.Sprintf("#### %s: %s customers move\n\n", mdName(s.Name, s.Label), Thousands(s.Moved)) +
		table("| segment | before | after | change |", "|---|--:|--:|--:|", rows)
	if len(s.Moves) == 0 {
		return out
	}
	var moves []string
	for _, mv := range s.Moves {
		moves = append(moves, fmt.Sprintf("| %s | %s | %s |", md(orNone(mv.From)), md(orNone(mv.To)), Thousands(mv.Count)))
	}
	return out + table("| from | to | customers |", "|---|---|--:|", moves)
}

// markdownWarnings quotes the quality report's warnings, such as stale
// facts.
func markdownWarnings(q *jobs.QualityReport) string {
	if q == nil {
		return ""
	}
	out := ""
	for _, warn := range q.Warnings {
		out += "> **Warning:** " + md(warn) + "\n\n"
	}
	return out
}
