package views

import (
	"bytes"
	"fmt"
	"io"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// explainMarkdown writes each trace as a section with a table per
// segmentation and one for the actions.
type explainMarkdown struct{ w io.Writer }

func (v *explainMarkdown) Trace(rs *rules.RuleSet, tr *engine.Trace) error {
	return flush(v.w, func(b *bytes.Buffer) { writeTraceMarkdown(b, rs, tr) })
}

func (v *explainMarkdown) Close() error { return nil }

func writeTraceMarkdown(b *bytes.Buffer, rs *rules.RuleSet, tr *engine.Trace) {
	fmt.Fprintf(b, "### Customer %s, rule set %s, as of %s\n\n", md(tr.Key), mdName(rs.Name, rs.Label), formatValue(tr.AsOf))
	writeDerivedMarkdown(b, rs, tr) // explainderived.go
	writeTraceBodyMarkdown(b, tr)
}

// writeTraceBodyMarkdown writes a trace's sections: a table per
// segmentation, one for the actions, and the rule errors.
func writeTraceBodyMarkdown(b *bytes.Buffer, tr *engine.Trace) {
	for _, st := range tr.Segmentations {
		fmt.Fprintf(b, "#### %s: %s\n\n", mdName(st.Name, st.Label), md(mdMove(st.Decision)))
		var rows []string
		for i, rt := range st.Tried {
			when, reads := rt.When, formatReads(rt.Reads)
			if rt.Outcome == engine.OutcomeNotReached {
				reads = ""
			}
			outcome := md(string(rt.Outcome))
			if rt.Error != "" {
				outcome += ": " + md(rt.Error)
			}
			rows = append(rows, fmt.Sprintf("| %d | %s | %s | %s | %s |", i+1, md(rt.Segment), outcome, mdCode(when), md(reads)))
		}
		b.WriteString(fullTable("| # | segment | outcome | condition | facts read |", "|--:|---|---|---|---|", rows))
		if st.Note != "" {
			fmt.Fprintf(b, "_Note: %s_\n\n", md(st.Note))
		}
		if c := coverageState(st); c != "" {
			fmt.Fprintf(b, "_Coverage: %s._\n\n", md(c))
		}
	}
	if len(tr.Actions) > 0 {
		var rows []string
		for _, at := range tr.Actions {
			reads := ""
			if at.Queued == nil {
				reads = formatReads(at.Reads)
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s |", md(at.Name), md(string(at.Outcome)), md(actionDetail(at)), md(reads)))
		}
		b.WriteString("#### Actions\n\n" + fullTable("| action | outcome | detail | facts read |", "|---|---|---|---|", rows))
	}
	if errs := traceErrors(tr); len(errs) > 0 {
		b.WriteString("#### Rule errors\n\n")
		for _, re := range errs {
			fmt.Fprintf(b, "- `%s`: %s\n", md(re.Rule), md(re.Message()))
		}
		b.WriteString("\n")
	}
}

// mdMove says where a decision leaves the customer, with an arrow that
// needs no escaping.
func mdMove(d engine.Decision) string {
	if d.Changed() {
		return orNone(d.Previous) + " → " + orNone(d.Segment)
	}
	return orNone(d.Segment) + " (unchanged)"
}
