package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tierflow/tierflow/jobs"
)

// maxMarkdownBytes keeps a preview under GitHub's 65,536-character limit
// for comments and job summaries, with room to spare.
const maxMarkdownBytes = 60000

// maxTableRows caps each markdown table.
const maxTableRows = 50

func pct(n, total int) string {
	if total == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.2f%%", float64(n)*100/float64(total))
}

func segName(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// printDiff writes a rule-change preview for a terminal.
func printDiff(w io.Writer, r *jobs.DiffReport) {
	fmt.Fprintf(w, "Rule change preview for %s against %s, as of %s\n", labelled(r.RuleSet, r.RuleSetLabel), r.Baseline, formatValue(r.AsOf))
	if r.NewRuleSet {
		fmt.Fprintln(w, "  new rule set: the baseline does not have it")
	}
	fmt.Fprintf(w, "  %s customers evaluated with both versions; %s (%s) treated differently\n", thousands(r.Customers), thousands(r.Differ), pct(r.Differ, r.Customers))
	for _, s := range r.Segmentations {
		if s.Moved == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: %s customers classified differently (baseline -> proposed)\n", labelled(s.Name, s.Label), thousands(s.Moved))
		for i, c := range s.Changes {
			if i == 15 {
				fmt.Fprintf(w, "    ... %d more\n", len(s.Changes)-15)
				break
			}
			fmt.Fprintf(w, "    %s -> %s  %s\n", segName(c.From), segName(c.To), thousands(c.Count))
		}
	}
	var acts []jobs.ActionDelta
	for _, a := range r.Actions {
		if a.Added+a.Removed > 0 {
			acts = append(acts, a)
		}
	}
	if len(acts) > 0 {
		fmt.Fprintln(w, "\nactions:")
		for _, a := range acts {
			fmt.Fprintf(w, "  %s  %s -> %s customers (+%s gained, -%s lost)\n", pad(labelled(a.Name, a.Label), 28),
				thousands(a.Before), thousands(a.After), thousands(a.Added), thousands(a.Removed))
		}
	}
	var changed []jobs.RuleDelta
	for _, rd := range r.Rules {
		if rd.Before != rd.After {
			changed = append(changed, rd)
		}
	}
	if len(changed) > 0 {
		fmt.Fprintln(w, "\nrules matching a different number of customers:")
		for _, rd := range changed {
			fmt.Fprintf(w, "  %s  %s -> %s (%s)\n", pad(rd.Rule, 32), thousands(rd.Before), thousands(rd.After), signed(rd.After-rd.Before))
		}
	}
	if r.NewErrors.Customers > 0 {
		fmt.Fprintf(w, "\nnew rule errors: %s\n", thousands(r.NewErrors.Customers))
		for _, e := range r.NewErrors.Examples {
			fmt.Fprintf(w, "  e.g. customer %s: %s: %s\n", e.Customer, e.Rule, e.Message)
		}
	}
	if len(r.Samples) > 0 {
		fmt.Fprintln(w, "\nsample customers:")
		for _, s := range r.Samples {
			fmt.Fprintf(w, "  customer %s, %s: %s (%s) -> %s (%s)\n", s.Customer, s.Segmentation, segName(s.Before), s.BeforeWhy, segName(s.After), s.AfterWhy)
		}
	}
	for _, reason := range r.Limits.Reasons {
		fmt.Fprintf(w, "\nLIMIT CROSSED: %s\n", reason)
	}
	if !r.HasEffect() {
		fmt.Fprintln(w, "\nNo effect: every customer is treated the same.")
	}
	fmt.Fprintln(w)
}

// md escapes text for a markdown table cell.
func md(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

// mdBuilder writes markdown sections until a size budget is spent, then
// notes the cut.
type mdBuilder struct {
	b      strings.Builder
	budget int
	cut    bool
}

// section appends s unless it would pass the budget.
func (m *mdBuilder) section(s string) {
	if m.cut {
		return
	}
	if m.b.Len()+len(s) > m.budget {
		m.cut = true
		return
	}
	m.b.WriteString(s)
}

// table renders rows (already escaped) under a header, capped at
// maxTableRows with a note.
func table(header, align string, rows []string) string {
	var b strings.Builder
	b.WriteString(header + "\n" + align + "\n")
	for i, row := range rows {
		if i == maxTableRows {
			fmt.Fprintf(&b, "\n_… and %d more rows (see `--format json`)._\n", len(rows)-maxTableRows)
			break
		}
		b.WriteString(row + "\n")
	}
	return b.String() + "\n"
}

// markdownDiff renders a preview for a pull-request comment or a job
// summary, cut to at most budget bytes with a note when cut.
func markdownDiff(r *jobs.DiffReport, budget int) string {
	m := &mdBuilder{budget: budget - 300}
	title := fmt.Sprintf("### tierflow rule-change preview: %s", md(r.RuleSet))
	if r.RuleSetLabel != "" {
		title = fmt.Sprintf("### tierflow rule-change preview: %s (`%s`)", md(r.RuleSetLabel), md(r.RuleSet))
	}
	head := title + "\n\n" + fmt.Sprintf("Compared with `%s` on **%s** customers as of %s.", md(r.Baseline), thousands(r.Customers), formatValue(r.AsOf))
	if r.Initial {
		head += " The facts carry no previous segments, so both versions start from none."
	}
	if r.NewRuleSet {
		head += " **This rule set is new:** the baseline does not have it."
	}
	head += "\n\n"
	if r.HasEffect() {
		head += fmt.Sprintf("**%s customers (%s) would be treated differently.**\n\n", thousands(r.Differ), pct(r.Differ, r.Customers))
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
			rows = append(rows, fmt.Sprintf("| %s | %s | %s |", md(segName(c.From)), md(segName(c.To)), thousands(c.Count)))
		}
		name := fmt.Sprintf("`%s`", md(s.Name))
		if s.Label != "" {
			name = md(s.Label) + " " + name
		}
		m.section(fmt.Sprintf("#### %s: %s customers classified differently\n\n", name, thousands(s.Moved)) +
			table("| baseline | proposed | customers |", "|---|---|--:|", rows))
	}
	var actRows []string
	for _, a := range r.Actions {
		if a.Added+a.Removed == 0 {
			continue
		}
		actRows = append(actRows, fmt.Sprintf("| %s | %s | %s | +%s | -%s |", md(labelled(a.Name, a.Label)),
			thousands(a.Before), thousands(a.After), thousands(a.Added), thousands(a.Removed)))
	}
	if len(actRows) > 0 {
		m.section("#### Actions\n\n" + table("| action | customers before | after | gained | lost |", "|---|--:|--:|--:|--:|", actRows))
	}
	var ruleRows []string
	for _, rd := range r.Rules {
		if rd.Before != rd.After {
			ruleRows = append(ruleRows, fmt.Sprintf("| `%s` | %s | %s | %s |", md(rd.Rule), thousands(rd.Before), thousands(rd.After), signed(rd.After-rd.Before)))
		}
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
		m.section(fmt.Sprintf("#### New rule errors: %s customers\n\n", thousands(r.NewErrors.Customers)) +
			table("| customer | rule | error |", "|---|---|---|", rows))
	}
	if len(r.Samples) > 0 {
		var rows []string
		for _, s := range r.Samples {
			rows = append(rows, fmt.Sprintf("| %s | `%s` | %s (%s) | %s (%s) |", md(s.Customer), md(s.Segmentation),
				md(segName(s.Before)), md(s.BeforeWhy), md(segName(s.After)), md(s.AfterWhy)))
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
