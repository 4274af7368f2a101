package engine

import (
	"time"

	"github.com/tierflow/tierflow/rules"
)

// coverageWake adds when the customer's coverage state can change in
// each segment it is in after the run (see coverageOf).
func (w *worker) coverageWake(asOf time.Time, c *Customer, res *Result, s *soonest) {
	for i, seg := range w.e.rs.Segmentations {
		k := w.newIdx[i]
		if k < 0 || seg.Segments[k].Coverage == nil {
			continue
		}
		cov := seg.Segments[k].Coverage
		var last time.Time
		for _, o := range c.State.Outcomes {
			switch {
			case !cov.Covers(o.Action, o.Outcome):
			case o.At.After(asOf):
				s.at(o.At) // reported for later: it counts from then
			case o.At.After(last):
				last = o.At
			}
		}
		if !last.IsZero() && asOf.Sub(last) < cov.Every {
			s.at(last.Add(cov.Every)) // covered until then
			continue
		}
		since := res.Segments[i].Since
		if since.IsZero() {
			continue // counted from each run's as-of: pending for good
		}
		if last.After(since) {
			since = last
		}
		if asOf.Sub(since) < cov.Every {
			s.at(since.Add(cov.Every)) // pending until then
		}
	}
}

// lastCovering is when the customer was last covered in seg at asOf:
// what days_since_covered counts from; zero for never.
func lastCovering(seg *rules.Segment, outcomes []ActionOutcome, asOf time.Time) time.Time {
	var last time.Time
	if cov := seg.Coverage; cov != nil {
		for _, o := range outcomes {
			if !o.At.After(asOf) && o.At.After(last) && cov.Covers(o.Action, o.Outcome) {
				last = o.At
			}
		}
	}
	return last
}

// wakeCovered tells the recorder when the customer was last covered in
// segmentation si, for the comparisons of days_since_covered.
func (w *worker) wakeCovered(si int, c *Customer, asOf time.Time) {
	if w.rec == nil {
		return
	}
	var last time.Time
	if k := w.newIdx[si]; k >= 0 {
		last = lastCovering(w.e.rs.Segmentations[si].Segments[k], c.State.Outcomes, asOf)
	}
	w.rec.Covered[si] = last
}
