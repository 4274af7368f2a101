package views

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"github.com/tierflow/tierflow/jobs"
)

// An effects report (tierflow effects) compares the customers an action
// was queued for with its held-out customers, and totals what actions
// cost. Shares are fractions in the report and percentages on screen;
// differences are in percentage points.

// sharePct shows a share (0 to 1) with one decimal: "12.5%".
func sharePct(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }

// points shows a difference of shares in percentage points: "-8.0".
func points(f float64) string {
	p := f * 100
	if math.Abs(p) < 0.05 {
		return "0.0"
	}
	return fmt.Sprintf("%+.1f", p)
}

// diffCI shows a difference with its confidence interval: "-8.0 [-14.1, -1.9]".
func diffCI(c jobs.Comparison) string {
	return fmt.Sprintf("%s [%s, %s]", points(c.Diff), points(c.Low), points(c.High))
}

// effectResult says whether a comparison concludes, or why not.
func effectResult(e jobs.TreatmentEffect) string {
	switch {
	case e.Conclusive:
		return "conclusive"
	case e.Note != "":
		return e.Note
	}
	return "inconclusive"
}

// keptPerCost shows customers kept per unit of cost, "-" when unknown.
func keptPerCost(f float64) string {
	if f == 0 {
		return "-"
	}
	return fmt.Sprintf("%.4g", f)
}

// money shows an amount with thousands separators and two decimals.
func money(f float64) string {
	neg := f < 0
	cents := int64(math.Round(math.Abs(f) * 100))
	s := Thousands(int(cents/100)) + fmt.Sprintf(".%02d", cents%100)
	if neg {
		return "-" + s
	}
	return s
}

// anyKeptPerCost reports whether some comparison knows its return on cost.
func anyKeptPerCost(effects []jobs.TreatmentEffect) bool {
	for _, e := range effects {
		if e.KeptPerCost != 0 {
			return true
		}
	}
	return false
}

// effectsHeading says what a report covers.
func effectsHeading(r *jobs.EffectsReport) string {
	s := fmt.Sprintf("decisions from %s to %s", formatValue(r.From), formatValue(r.Until))
	if r.Latest.IsZero() {
		return s + "; no succeeded run yet"
	}
	return s + fmt.Sprintf(", compared up to the latest run (as of %s)", formatValue(r.Latest))
}

// capitalize starts s with a capital letter, for a sentence.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// effectsMethod explains the figures, under the table.
func effectsMethod(r *jobs.EffectsReport) string {
	s := "Differences are treated minus held out, in percentage points"
	if r.Method != "" {
		s += "; confidence interval: " + r.Method
	}
	return s + "."
}

const (
	noChurnText   = "The rule set declares no churn segment (churn: SEGMENTATION.SEGMENT), so churn is not compared."
	noEffectsText = "No comparisons yet: no action with a holdout was decided in this window, or its horizons have not passed " +
		"by the latest run. Give an action a control group with holdout: 10% (docs/follow-ups.md)."
	noCostsText = "No costs: no action with a cost was queued in this period (cost: in the rule file says what one queued action costs)."
)

// effectColumns are the comparison table's columns; churned ones only
// when the rule set declares churn, kept per cost only when known.
func effectColumns(r *jobs.EffectsReport) []string {
	cols := []string{"action", "segmentation", "segment", "horizon", "treated", "held out"}
	if r.Churn != "" {
		cols = append(cols, "churned, treated", "churned, held out", "churned diff (95% CI)")
	}
	cols = append(cols, "stayed diff", "moved up diff")
	if anyKeptPerCost(r.Effects) {
		cols = append(cols, "kept per cost")
	}
	return append(cols, "result")
}

// effectCells are one comparison's cells, in effectColumns' order.
func effectCells(r *jobs.EffectsReport, e jobs.TreatmentEffect) []string {
	cells := []string{e.Action, e.Segmentation, e.Segment, fmt.Sprintf("%dd", e.Horizon), Thousands(e.Treated), Thousands(e.HeldOut)}
	if r.Churn != "" {
		cells = append(cells, sharePct(e.Churned.Treated), sharePct(e.Churned.HeldOut), diffCI(e.Churned))
	}
	cells = append(cells, points(e.Stayed.Diff), points(e.MovedUp.Diff))
	if anyKeptPerCost(r.Effects) {
		cells = append(cells, keptPerCost(e.KeptPerCost))
	}
	return append(cells, effectResult(e))
}

func (v tableText) Effects(reports []*jobs.EffectsReport) error {
	return flush(v.w, func(b *bytes.Buffer) {
		for i, r := range reports {
			if i > 0 {
				b.WriteString("\n")
			}
			writeEffectsText(b, r)
		}
	})
}

func writeEffectsText(b *bytes.Buffer, r *jobs.EffectsReport) {
	fmt.Fprintf(b, "Effects of rule set %s: %s\n", r.RuleSet, effectsHeading(r))
	if r.Churn != "" {
		fmt.Fprintf(b, "  churn is %s\n", r.Churn)
	}
	b.WriteString("\ntreated vs held out:\n")
	if len(r.Effects) == 0 {
		b.WriteString("  " + noEffectsText + "\n")
	} else {
		cols := effectColumns(r)
		t := newColumns(cols, "horizon", "treated", "held out", "churned, treated", "churned, held out", "stayed diff", "moved up diff", "kept per cost")
		for _, e := range r.Effects {
			t.add(effectCells(r, e)...)
		}
		t.write(b, "  ")
		if r.Churn == "" {
			b.WriteString("  " + noChurnText + "\n")
		}
		b.WriteString("  " + effectsMethod(r) + "\n")
	}
	b.WriteString("\ncost per class:\n")
	if len(r.Costs) == 0 {
		b.WriteString("  " + noCostsText + "\n")
		return
	}
	t := newColumns([]string{"action", "segmentation", "segment", "queued", "unit cost", "cost"}, "queued", "unit cost", "cost")
	for _, c := range r.Costs {
		t.add(c.Action, c.Segmentation, c.Segment, Thousands(c.Queued), money(c.UnitCost), money(c.Cost))
	}
	t.write(b, "  ")
}

func (v tableMarkdown) Effects(reports []*jobs.EffectsReport) error {
	var b strings.Builder
	for _, r := range reports {
		fmt.Fprintf(&b, "### Effects: `%s`\n\n%s.", md(r.RuleSet), md(capitalize(effectsHeading(r))))
		if r.Churn != "" {
			fmt.Fprintf(&b, " Churn is `%s`.", md(r.Churn))
		}
		b.WriteString("\n\n#### Treated vs held out\n\n")
		if len(r.Effects) == 0 {
			b.WriteString("_" + md(noEffectsText) + "_\n\n")
		} else {
			cols := effectColumns(r)
			align := make([]string, len(cols))
			for i, c := range cols {
				align[i] = "---"
				if i >= 3 && c != "result" && !strings.Contains(c, "CI") {
					align[i] = "--:"
				}
			}
			var rows []string
			for _, e := range r.Effects {
				cells := effectCells(r, e)
				for i := range cells {
					cells[i] = md(cells[i])
				}
				rows = append(rows, "| "+strings.Join(cells, " | ")+" |")
			}
			b.WriteString(table("| "+strings.Join(cols, " | ")+" |", "|"+strings.Join(align, "|")+"|", rows))
			if r.Churn == "" {
				b.WriteString("_" + md(noChurnText) + "_\n\n")
			}
			b.WriteString("_" + md(effectsMethod(r)) + "_\n\n")
		}
		b.WriteString("#### Cost per class\n\n")
		if len(r.Costs) == 0 {
			b.WriteString("_" + md(noCostsText) + "_\n\n")
			continue
		}
		var rows []string
		for _, c := range r.Costs {
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", md(c.Action), md(c.Segmentation), md(c.Segment),
				Thousands(c.Queued), money(c.UnitCost), money(c.Cost)))
		}
		b.WriteString(table("| action | segmentation | segment | queued | unit cost | cost |", "|---|---|---|--:|--:|--:|", rows))
	}
	_, err := fmt.Fprint(v.w, b.String())
	return err
}
