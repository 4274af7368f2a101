package views

import (
	"fmt"

	"github.com/tierflow/tierflow/jobs"
)

// markdownDiff renders a preview for a pull-request comment or a job
// summary, cut to at most budget bytes with a note when cut.
func markdownDiff(r *jobs.DiffReport, budget int) string {
	m := &mdBuilder{budget: budget - 300}
	title := fmt.Sprintf("### tierflow rule-change preview: %s", md(r.RuleSet))
	if r.RuleSetLabel != "" {
		title = fmt.Sprintf("### tierflow rule-change preview: %s (`%s`)", md(r.RuleSetLabel), md(r.RuleSet))
	}
	head := title + "\n\n" + fmt.Sprintf("Compared with `%s` on **%s** customers as of %s.", md(r.Baseline), Thousands(r.Customers), formatValue(r.AsOf))
	if r.Initial {
		head += " The facts carry no previous segments, so both versions start from none."
	}
	if r.NewRuleSet {
		head += " **This rule set is new:** the baseline does not have it."
	}
	head += "\n\n"
	head += markdownWarnings(r.Quality)
	if r.Quality != nil && r.Quality.Failed {
		head += "Data-quality checks that would refuse an apply:\n\n"
		for _, c := range r.Quality.Checks {
			if !c.Passed {
				head += mdCheckQuote(c)
			}
		}
	}
	if r.HasEffect() {
		head += fmt.Sprintf("**%s customers (%s) would be treated differently.**\n\n", Thousands(r.Differ), pct(r.Differ, r.Customers))
	} else {
		head += "**No effect:** every customer is classified and followed up exactly as before.\n\n"
	}
	for _, reason := range r.Limits.Reasons {
		head += "> **Limit crossed:** " + md(reason) + "\n\n"
	}
	m.section(head)
	for _, s := range r.Segmentations {
		if s.Moved == 0 {
			continue
		}
		var rows []string
		for _, c := range s.Changes {
			rows = append(rows, fmt.Sprintf("| %s | %s | %s |", md(orNone(c.From)), md(orNone(c.To)), Thousands(c.Count)))
		}
		name := fmt.Sprintf("`%s`", md(s.Name))
		if s.Label != "" {
			name = md(s.Label) + " " + name
		}
		m.section(fmt.Sprintf("#### %s: %s customers classified differently\n\n", name, Thousands(s.Moved)) +
			table("| baseline | proposed | customers |", "|---|---|--:|", rows))
	}
	var actRows []string
	for _, a := range changedActions(r) {
		actRows = append(actRows, fmt.Sprintf("| %s | %s | %s | +%s | -%s |", md(labelled(a.Name, a.Label)),
			Thousands(a.Before), Thousands(a.After), Thousands(a.Added), Thousands(a.Removed)))
	}
	if len(actRows) > 0 {
		m.section("#### Actions\n\n" + table("| action | customers before | after | gained | lost |", "|---|--:|--:|--:|--:|", actRows))
	}
	var ruleRows []string
	for _, rd := range changedRules(r) {
		ruleRows = append(ruleRows, fmt.Sprintf("| `%s` | %s | %s | %s |", md(rd.Rule), Thousands(rd.Before), Thousands(rd.After), signed(rd.After-rd.Before)))
	}
	if len(ruleRows) > 0 {
		m.section("<details><summary>Rules matching a different number of customers</summary>\n\n" +
			table("| rule | before | after | change |", "|---|--:|--:|--:|", ruleRows) + "</details>\n\n")
	}
	if r.NewErrors.Customers > 0 {
		var rows []string
		for _, e := range r.NewErrors.Examples {
			rows = append(rows, fmt.Sprintf("| %s | `%s` | %s |", md(e.Customer), md(e.Rule), md(e.Message)))
		}
		m.section(fmt.Sprintf("#### New rule errors: %s customers\n\n", Thousands(r.NewErrors.Customers)) +
			table("| customer | rule | error |", "|---|---|---|", rows))
	}
	if len(r.Samples) > 0 {
		var rows []string
		for _, s := range r.Samples {
			rows = append(rows, fmt.Sprintf("| %s | `%s` | %s (%s) | %s (%s) |", md(s.Customer), md(s.Segmentation),
				md(orNone(s.Before)), md(s.BeforeWhy), md(orNone(s.After)), md(s.AfterWhy)))
		}
		m.section(fmt.Sprintf("<details><summary>Sample customers (%d)</summary>\n\n", len(r.Samples)) +
			table("| customer | segmentation | baseline | proposed |", "|---|---|---|---|", rows) +
			"`tierflow explain --customer KEY` shows the full reasoning.\n\n</details>\n\n")
	}
	out := m.b.String()
	if m.cut {
		out += fmt.Sprintf("_Preview cut to stay under %d KB; the full report is in `tierflow plan --format json`._\n\n", budget/1000)
	}
	return out
}
