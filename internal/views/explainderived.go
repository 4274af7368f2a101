package views

import (
	"bytes"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// derivedJSON is a derived fact a trace's rules read: its value, its kind
// ("derived", "population" or "predicted") and its declaration.
type derivedJSON struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Derive string `json:"derive"`
	Value  any    `json:"value"`
}

// derivedReads lists the derived facts the rules of tr read, once each,
// in schema order, with the value they read.
func derivedReads(rs *rules.RuleSet, tr *engine.Trace) []derivedJSON {
	if rs == nil || !rs.HasDerived() {
		return nil
	}
	read := map[string]any{}
	add := func(reads []engine.FactValue) {
		for _, r := range reads {
			read[r.Name] = r.Value
		}
	}
	for _, st := range tr.Segmentations {
		for _, rt := range st.Tried {
			if rt.Outcome != engine.OutcomeNotReached {
				add(rt.Reads)
			}
		}
	}
	for _, at := range tr.Actions {
		add(at.Reads)
	}
	var out []derivedJSON
	for _, df := range rs.Derived() {
		v, ok := read[df.Field.Name]
		if !ok {
			continue
		}
		if t, isTime := v.(time.Time); isTime && df.Field.Type == rules.TypeDate {
			v = t.Format(time.DateOnly)
		}
		out = append(out, derivedJSON{Name: df.Field.Name, Kind: df.Field.Derived.Kind.String(), Derive: df.Field.Derived.Source, Value: v})
	}
	return out
}

// writeDerivedText writes the derived facts the rules read, one a line:
// "  spend_12m = 120.5   (derived: sum(amount, last 365d))".
func writeDerivedText(b *bytes.Buffer, rs *rules.RuleSet, tr *engine.Trace) {
	ds := derivedReads(rs, tr)
	if len(ds) == 0 {
		return
	}
	b.WriteString("derived facts the rules read:\n")
	width := 0
	for _, d := range ds {
		width = max(width, displayWidth(d.Name+" = "+formatValue(d.Value)))
	}
	for _, d := range ds {
		fmt.Fprintf(b, "  %s   (%s: %s)\n", pad(d.Name+" = "+formatValue(d.Value), width), d.Kind, d.Derive)
	}
	b.WriteString("\n")
}

// writeDerivedMarkdown writes them as a table.
func writeDerivedMarkdown(b *bytes.Buffer, rs *rules.RuleSet, tr *engine.Trace) {
	ds := derivedReads(rs, tr)
	if len(ds) == 0 {
		return
	}
	rows := make([]string, len(ds))
	for i, d := range ds {
		rows[i] = fmt.Sprintf("| %s | %s | %s | %s |", md(d.Name), md(formatValue(d.Value)), d.Kind, md(d.Derive))
	}
	b.WriteString("#### Derived facts\n\n" + fullTable("| fact | value | kind | derived as |", "|---|---|---|---|", rows))
}
