package jobs

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// noEnd stands for a period without an end.
var noEnd = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// newEffectsRun checks opts, fills in their defaults and prepares the
// totals.
func newEffectsRun(rs *rules.RuleSet, opts EffectsOptions) (*effectsRun, error) {
	horizons, err := effectHorizons(opts.Horizons)
	if err != nil {
		return nil, err
	}
	switch {
	case opts.MinGroup < 0:
		return nil, fmt.Errorf("the smallest group to conclude from is %d; give a positive number", opts.MinGroup)
	case opts.MinGroup == 0:
		opts.MinGroup = DefaultMinGroup
	}
	if opts.Until.IsZero() {
		opts.Until = cmp.Or(opts.Latest, noEnd)
	}
	if opts.Until.Before(opts.From) {
		return nil, fmt.Errorf("the period ends (%s) before it starts (%s)", opts.Until.Format(time.RFC3339), opts.From.Format(time.RFC3339))
	}
	r := &effectsRun{rs: rs, opts: opts, horizons: horizons, churnSeg: -1, action: map[string]int{}, seg: map[string]int{},
		bySeg: make([][]HistoryMove, len(rs.Segmentations)), first: make([]int, len(rs.Actions)), xs: make([]int, len(rs.Segmentations))}
	for i, a := range rs.Actions {
		r.action[a.Name] = i
	}
	for i, s := range rs.Segmentations {
		r.seg[s.Name] = i
		r.maxSegs = max(r.maxSegs, len(s.Segments))
	}
	classes := len(rs.Actions) * len(rs.Segmentations) * r.maxSegs
	r.cells, r.costs = make([]cell, classes*len(horizons)), make([]int, classes)
	if c := rs.Churn; c != nil {
		s, i := rs.Segmentation(c.Segmentation)
		if s == nil || s.SegmentIndex(c.Segment) < 0 {
			return nil, fmt.Errorf("churn: %s is not a segment of the rule set", c)
		}
		r.churnSeg, r.churn = i, c.Segment
	}
	return r, nil
}

// effectHorizons returns the horizons to compare at, ascending, once
// each: DefaultHorizons when none are given.
func effectHorizons(given []int) ([]int, error) {
	if len(given) == 0 {
		given = DefaultHorizons
	}
	for _, h := range given {
		if h <= 0 {
			return nil, fmt.Errorf("horizon %d days: horizons are positive numbers of days", h)
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(given))), nil
}

// report turns the totals into the report, in the documented order:
// that of cells and costs.
func (r *effectsRun) report() *EffectsReport {
	rep := &EffectsReport{RuleSet: r.rs.Name, From: r.opts.From, Until: r.opts.Until, Latest: r.opts.Latest,
		Method: EffectsMethod, Horizons: r.horizons, MinGroup: r.opts.MinGroup,
		Effects: []TreatmentEffect{}, Costs: []ClassCost{}}
	if r.rs.Churn != nil {
		rep.Churn = r.rs.Churn.String()
	}
	for i := range r.cells {
		if c := &r.cells[i]; c.n[treated]+c.n[heldOut] > 0 {
			rep.Effects = append(rep.Effects, r.effect(r.key(i, len(r.horizons)), c))
		}
	}
	for i, n := range r.costs {
		if n == 0 {
			continue
		}
		k := r.key(i, 1)
		a, s := r.rs.Actions[k.action], r.rs.Segmentations[k.seg]
		rep.Costs = append(rep.Costs, ClassCost{Action: a.Name, Segmentation: s.Name, Segment: s.Segments[k.segment].Name,
			Queued: n, UnitCost: a.Cost, Cost: float64(n) * a.Cost})
	}
	return rep
}

// effect is the comparison of one cell.
func (r *effectsRun) effect(k cellKey, c *cell) TreatmentEffect {
	a, s := r.rs.Actions[k.action], r.rs.Segmentations[k.seg]
	nt, nh := c.n[treated], c.n[heldOut]
	e := TreatmentEffect{Action: a.Name, Segmentation: s.Name, Segment: s.Segments[k.segment].Name,
		Horizon: r.horizons[k.horizon], Treated: nt, HeldOut: nh,
		Stayed:  compare(c.stayed[treated], nt, c.stayed[heldOut], nh),
		MovedUp: compare(c.movedUp[treated], nt, c.movedUp[heldOut], nh)}
	if r.churnSeg >= 0 {
		e.Churned = compare(c.churned[treated], nt, c.churned[heldOut], nh)
	}
	e.Conclusive = nt >= r.opts.MinGroup && nh >= r.opts.MinGroup
	if !e.Conclusive {
		e.Note = fmt.Sprintf("too small to conclude: %d treated, %d held out; need %d in each", nt, nh, r.opts.MinGroup)
	}
	if a.Cost > 0 {
		e.Cost = float64(c.decisions) * a.Cost
		if r.churnSeg >= 0 && nt > 0 && nh > 0 && e.Cost > 0 {
			e.KeptPerCost = (e.Churned.HeldOut - e.Churned.Treated) * float64(nt) / e.Cost
		}
	}
	return e
}
