package views

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// Run writes one customer's part in a recorded run as a section: the
// verdict, a table of the record beside today's evaluation, then that
// evaluation's tables.
func (v *explainMarkdown) Run(rs *rules.RuleSet, x *jobs.RunExplanation) error {
	return flush(v.w, func(b *bytes.Buffer) {
		fmt.Fprintf(b, "### Customer %s, rule set %s, run %d as of %s\n\n", md(x.Customer), mdName(rs.Name, rs.Label), x.Run.ID, formatValue(x.Run.AsOf))
		verdict := md(strings.Join(runVerdict(x), " "))
		if x.Verdict != jobs.VerdictAgrees {
			verdict = "**" + verdict + "**"
		}
		b.WriteString(verdict + "\n\n")
		rows := []string{
			fmt.Sprintf("| %s | %s | %s |", md(recordedLabel(x)), md(movesCell(x.Recorded)), md(actionsCell(x.Recorded))),
			fmt.Sprintf("| %s | %s | %s |", md(evaluatedLabel), md(movesCell(x.Evaluated)), md(actionsCell(x.Evaluated))),
		}
		b.WriteString(fullTable("| | moves | actions |", "|---|---|---|", rows))
		if x.Verdict != jobs.VerdictAgrees {
			b.WriteString("_The tables below are today's evaluation, not the record._\n\n")
		}
		for _, n := range x.Notes {
			fmt.Fprintf(b, "- _Note: %s_\n", md(n))
		}
		if len(x.Notes) > 0 {
			b.WriteString("\n")
		}
		writeTraceBodyMarkdown(b, x.Trace)
	})
}

// movesCell lists an outcome's moves with arrows that need no escaping.
func movesCell(o jobs.RunOutcome) string {
	if len(o.Moves) == 0 {
		return "none"
	}
	parts := make([]string, len(o.Moves))
	for i, m := range o.Moves {
		parts[i] = fmt.Sprintf("%s: %s → %s", m.Segmentation, orNone(m.From), orNone(m.To))
	}
	return strings.Join(parts, "; ")
}

// actionsCell lists an outcome's actions and their states.
func actionsCell(o jobs.RunOutcome) string {
	if len(o.Actions) == 0 {
		return "none"
	}
	parts := make([]string, len(o.Actions))
	for i, a := range o.Actions {
		parts[i] = a.Action + " (" + actionState(a) + ")"
	}
	return strings.Join(parts, "; ")
}
