package views

import (
	"strconv"

	"github.com/tierflow/tierflow/jobs"
)

// effects' JSON document is jobs' documented EffectsReport, one per rule
// set (docs/output.md).
func (v tableJSON) Effects(reports []*jobs.EffectsReport) error {
	out := make([]*jobs.EffectsReport, len(reports))
	for i, r := range reports {
		c := *r
		if c.Effects == nil {
			c.Effects = []jobs.TreatmentEffect{}
		}
		if c.Costs == nil {
			c.Costs = []jobs.ClassCost{}
		}
		out[i] = &c
	}
	return writeJSON(v.w, struct {
		FormatVersion int                   `json:"format_version"`
		RuleSets      []*jobs.EffectsReport `json:"rulesets"`
	}{FormatVersion, out})
}

// effectsCSVHeader names effects' CSV columns: one row per comparison
// (kind effect) and per class cost (kind cost). A comparison's shares are
// SHARE_treated, SHARE_held_out, SHARE_diff, SHARE_low and SHARE_high for
// churned, stayed and moved_up.
var effectsCSVHeader = func() []string {
	h := []string{"ruleset", "kind", "action", "segmentation", "segment", "horizon_days", "treated", "held_out"}
	for _, share := range []string{"churned", "stayed", "moved_up"} {
		for _, f := range []string{"treated", "held_out", "diff", "low", "high"} {
			h = append(h, share+"_"+f)
		}
	}
	return append(h, "conclusive", "note", "queued", "unit_cost", "cost", "kept_per_cost")
}()

func (v tableCSV) Effects(reports []*jobs.EffectsReport) error {
	rows := [][]string{effectsCSVHeader}
	for _, r := range reports {
		rows = append(rows, effectsRows(r)...)
	}
	return writeCSV(v.w, rows)
}

// effectsRows are one report's CSV rows: its comparisons, then its class
// costs.
func effectsRows(r *jobs.EffectsReport) [][]string {
	var rows [][]string
	for _, e := range r.Effects {
		row := []string{r.RuleSet, "effect", e.Action, e.Segmentation, e.Segment, strconv.Itoa(e.Horizon), strconv.Itoa(e.Treated), strconv.Itoa(e.HeldOut)}
		for _, c := range []jobs.Comparison{e.Churned, e.Stayed, e.MovedUp} {
			row = append(row, csvFloat(c.Treated), csvFloat(c.HeldOut), csvFloat(c.Diff), csvFloat(c.Low), csvFloat(c.High))
		}
		rows = append(rows, append(row, strconv.FormatBool(e.Conclusive), e.Note, "", "", csvFloat(e.Cost), csvFloat(e.KeptPerCost)))
	}
	for _, c := range r.Costs {
		row := make([]string, len(effectsCSVHeader))
		copy(row, []string{r.RuleSet, "cost", c.Action, c.Segmentation, c.Segment})
		n := len(row)
		row[n-4], row[n-3], row[n-2] = strconv.Itoa(c.Queued), csvFloat(c.UnitCost), csvFloat(c.Cost)
		rows = append(rows, row)
	}
	return rows
}
