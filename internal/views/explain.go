package views

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// Explain renders explanations of customers' evaluations (tierflow
// explain), one trace per customer and rule set, or of recorded runs
// (explain --run).
type Explain interface {
	// Trace renders how rule set rs classified one customer.
	Trace(rs *rules.RuleSet, tr *engine.Trace) error
	// Run renders one customer's part in a recorded run (explain --run):
	// what the run recorded, and apart from it today's evaluation at the
	// run's as-of, from the state before it.
	Run(rs *rules.RuleSet, x *jobs.RunExplanation) error
	// Close ends the output; JSON is written here, as one document.
	Close() error
}

// NewExplain returns the Explain view for format: text, json or
// markdown.
func NewExplain(format string, w io.Writer) (Explain, error) {
	f, err := parseFormat(format, reportFormats)
	if err != nil {
		return nil, err
	}
	switch f {
	case JSON:
		return &explainJSON{w: w, doc: explainDoc{FormatVersion: FormatVersion, Explanations: []traceJSON{}}}, nil
	case Markdown:
		return &explainMarkdown{w: w}, nil
	}
	return &explainText{w: w}, nil
}

// explainText writes each trace under a header line, a blank line between
// traces.
type explainText struct {
	w    io.Writer
	seen bool
}

func (v *explainText) Trace(rs *rules.RuleSet, tr *engine.Trace) error {
	return flush(v.w, func(b *bytes.Buffer) {
		if v.seen {
			b.WriteString("\n")
		}
		v.seen = true
		fmt.Fprintf(b, "customer %s, rule set %s, as of %s\n\n", tr.Key, labelled(rs.Name, rs.Label), formatValue(tr.AsOf))
		writeDerivedText(b, rs, tr) // explainderived.go
		WriteTrace(b, tr)
		for _, re := range traceErrors(tr) {
			fmt.Fprintf(b, "error: %s: %s\n", re.Rule, re.Message())
		}
	})
}

func (v *explainText) Close() error { return nil }

// WriteTrace writes the text body of an explanation: each segmentation's
// rules as tried, and each action's outcome. tierflow test prints it
// (indented) under a failing case.
func WriteTrace(w io.Writer, tr *engine.Trace) {
	for _, st := range tr.Segmentations {
		fmt.Fprintf(w, "%s: %s\n", labelled(st.Name, st.Label), moveText(st.Decision))
		width := 0
		for _, rt := range st.Tried {
			width = max(width, displayWidth(rt.Segment))
		}
		for i, rt := range st.Tried {
			line := fmt.Sprintf("  %d. %s  %-11s", i+1, pad(rt.Segment, width), rt.Outcome)
			if rt.When != "" && rt.Outcome != engine.OutcomeNotReached {
				line += "  " + rt.When
			}
			if len(rt.Reads) > 0 && rt.Outcome != engine.OutcomeNotReached {
				line += "   [" + formatReads(rt.Reads) + "]"
			}
			if rt.Error != "" {
				line += "\n       error: " + rt.Error
			}
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
		if st.Note != "" {
			fmt.Fprintf(w, "  note: %s\n", st.Note)
		}
		if c := coverageState(st); c != "" {
			fmt.Fprintf(w, "  coverage: %s\n", c)
		}
	}
	if len(tr.Actions) == 0 {
		return
	}
	fmt.Fprintln(w, "actions:")
	width := 0
	for _, at := range tr.Actions {
		width = max(width, displayWidth(at.Name))
	}
	for _, at := range tr.Actions {
		line := fmt.Sprintf("  %s  %s", pad(at.Name, width), at.Outcome)
		if d := actionDetail(at); d != "" {
			line += ": " + d
		}
		if len(at.Reads) > 0 && at.Queued == nil {
			line += "   [" + formatReads(at.Reads) + "]"
		}
		fmt.Fprintln(w, line)
	}
}

// coverageState says where the customer stands against its segment's
// coverage target: "overdue, 35 days since last covered", "pending, never
// covered"; "" when the segment has none.
func coverageState(st *engine.SegmentationTrace) string {
	if st.Coverage == engine.CoverageNone {
		return ""
	}
	switch d := st.DaysSinceCovered; {
	case d < 0:
		return st.Coverage.String() + ", never covered"
	case d == 0:
		return st.Coverage.String() + ", last covered today"
	case d == 1:
		return st.Coverage.String() + ", 1 day since last covered"
	default:
		return fmt.Sprintf("%s, %d days since last covered", st.Coverage, d)
	}
}

// moveText says where a decision leaves the customer: "vip (unchanged)"
// or "active -> at_risk".
func moveText(d engine.Decision) string {
	if d.Changed() {
		return orNone(d.Previous) + " -> " + orNone(d.Segment)
	}
	return orNone(d.Segment) + " (unchanged)"
}

// actionDetail says what an action queued, or why it did not fire.
func actionDetail(at *engine.ActionTrace) string {
	if q := at.Queued; q != nil {
		s := fmt.Sprintf("due %s, priority %d", formatValue(q.Due), q.Priority)
		if len(q.Payload) > 0 {
			s += ", payload " + formatValue(q.Payload)
		}
		return s
	}
	return at.Why
}

// formatReads shows the facts a rule read: "spend_12m=30000 channel="store"".
func formatReads(reads []engine.FactValue) string {
	parts := make([]string, len(reads))
	for i, r := range reads {
		parts[i] = r.Name + "=" + formatValue(r.Value)
	}
	return strings.Join(parts, " ")
}

// traceErrors are the rule errors of a trace's result.
func traceErrors(tr *engine.Trace) []engine.RuleError {
	if tr.Result == nil {
		return nil
	}
	return tr.Result.Errors
}
