package main

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// indentWriter prefixes every line written through it.
type indentWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func indent(w io.Writer, prefix string) io.Writer { return &indentWriter{w: w, prefix: prefix} }

func (iw *indentWriter) Write(p []byte) (int, error) {
	var b bytes.Buffer
	for _, c := range p {
		if !iw.mid {
			b.WriteString(iw.prefix)
			iw.mid = true
		}
		b.WriteByte(c)
		if c == '\n' {
			iw.mid = false
		}
	}
	if _, err := iw.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// pad right-pads s to width display columns, so tables line up even with
// wide characters such as 客户.
func pad(s string, width int) string {
	if w := runewidth.StringWidth(s); w < width {
		return s + strings.Repeat(" ", width-w)
	}
	return s
}

func labelled(name, label string) string {
	if label == "" || label == name {
		return name
	}
	return fmt.Sprintf("%s (%s)", label, name)
}

// formatValue renders a fact or payload value for people.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case time.Time:
		if x.IsZero() {
			return "0001-01-01"
		}
		if x.Equal(x.Truncate(24 * time.Hour)) {
			return x.Format("2006-01-02")
		}
		return x.Format(time.RFC3339)
	case string:
		return fmt.Sprintf("%q", x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + formatValue(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

func formatReads(reads []engine.FactValue) string {
	parts := make([]string, len(reads))
	for i, r := range reads {
		parts[i] = r.Name + "=" + formatValue(r.Value)
	}
	return strings.Join(parts, " ")
}

// printTrace writes an explanation of one customer's evaluation.
func printTrace(w io.Writer, rs *rules.RuleSet, tr *engine.Trace) {
	for _, st := range tr.Segmentations {
		d := st.Decision
		from := d.Previous
		if from == "" {
			from = "(none)"
		}
		to := d.Segment
		if to == "" {
			to = "(none)"
		}
		move := to + " (unchanged)"
		if d.Changed() {
			move = from + " -> " + to
		}
		fmt.Fprintf(w, "%s: %s\n", labelled(st.Name, st.Label), move)
		width := 0
		for _, rt := range st.Tried {
			width = max(width, runewidth.StringWidth(rt.Segment))
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
	}
	if len(tr.Actions) == 0 {
		return
	}
	fmt.Fprintln(w, "actions:")
	width := 0
	for _, at := range tr.Actions {
		width = max(width, runewidth.StringWidth(at.Name))
	}
	for _, at := range tr.Actions {
		line := fmt.Sprintf("  %s  %s", pad(at.Name, width), at.Outcome)
		switch {
		case at.Queued != nil:
			q := at.Queued
			line += fmt.Sprintf(": due %s, priority %d", formatValue(q.Due), q.Priority)
			if len(q.Payload) > 0 {
				line += ", payload " + formatValue(q.Payload)
			}
		case at.Why != "":
			line += ": " + at.Why
		}
		if len(at.Reads) > 0 && at.Queued == nil {
			line += "   [" + formatReads(at.Reads) + "]"
		}
		fmt.Fprintln(w, line)
	}
}
