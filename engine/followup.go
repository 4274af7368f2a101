package engine

import (
	"fmt"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// followUp holds what the engine precomputes for coverage targets,
// contact limits and holdouts.
type followUp struct {
	// coverage is true when some segment declares a coverage target.
	coverage bool
	// withhold is true when the rule set has limits or some action a
	// holdout: fired actions then pass through withhold.
	withhold bool
}

func newFollowUp(rs *rules.RuleSet) followUp {
	return followUp{coverage: rs.HasCoverage(), withhold: rs.Limits != nil || rs.HasHoldout()}
}

// coverageOf returns a customer's coverage state in seg at asOf, having
// been in it since since, and the days since its last covering outcome
// (-1 when it has none).
func coverageOf(seg *rules.Segment, since time.Time, outcomes []ActionOutcome, asOf time.Time) (CoverageState, int) {
	cov := seg.Coverage
	if cov == nil {
		return CoverageNone, -1
	}
	var last time.Time
	for _, o := range outcomes {
		if o.At.After(asOf) || !cov.Covers(o.Action, o.Outcome) {
			continue
		}
		if o.At.After(last) {
			last = o.At
		}
	}
	daysSince := -1
	if !last.IsZero() {
		daysSince = rules.DaysBetween(last, asOf)
		if asOf.Sub(last) < cov.Every {
			return CoverageCovered, daysSince
		}
	}
	start := since
	if last.After(start) {
		start = last
	}
	if !start.IsZero() && asOf.Sub(start) < cov.Every {
		return CoveragePending, daysSince
	}
	return CoverageOverdue, daysSince
}

// coverage computes the customer's coverage state in every segmentation
// from its decisions, and publishes it to the actions that read it.
func (w *worker) coverage(asOf time.Time, c *Customer, res *Result, tr *Trace) {
	rs := w.e.rs
	if cap(res.Coverage) >= len(rs.Segmentations) {
		res.Coverage = res.Coverage[:len(rs.Segmentations)]
	} else {
		res.Coverage = make([]CoverageState, len(rs.Segmentations))
	}
	for i, s := range rs.Segmentations {
		d := &res.Segments[i]
		state, daysSince := CoverageNone, -1
		if k := w.newIdx[i]; k >= 0 {
			since := d.Since
			if since.IsZero() {
				since = asOf
			}
			state, daysSince = coverageOf(s.Segments[k], since, c.State.Outcomes, asOf)
		}
		res.Coverage[i] = state
		sv := &w.e.segs[i]
		if sv.overdue >= 0 {
			w.set(sv.overdue, state == CoverageOverdue)
		}
		if sv.daysSinceCovered >= 0 {
			w.set(sv.daysSinceCovered, rules.IntValue(daysSince))
			if w.e.coveredRead[i] {
				w.wakeCovered(i, c, asOf)
			}
		}
		tr.coverage(s, state, daysSince)
	}
}

// withhold takes the fired actions of res (res.Actions, with their
// indexes in fired) in priority order, lower numbers first and file
// order among equals, and moves to res.Withheld those whose customer is
// in the action's holdout group, then those over a contact limit.
// Queued actions keep their file order.
func (w *worker) withhold(asOf time.Time, c *Customer, res *Result, tr *Trace) {
	rs := w.e.rs
	fired := w.fired
	order := w.order[:0]
	for j := range res.Actions {
		order = append(order, j)
	}
	// A stable insertion sort: there are a few fired actions, and
	// sort.SliceStable would allocate for every customer.
	before := func(a, b int) bool {
		if res.Actions[a].Priority != res.Actions[b].Priority {
			return res.Actions[a].Priority < res.Actions[b].Priority
		}
		return fired[a] < fired[b]
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && before(order[j], order[j-1]); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	w.order = order
	keep := w.kept[:0]
	for range res.Actions {
		keep = append(keep, true)
	}
	w.kept = keep
	var queued []int // indexes of accepted actions, for the limits
	for _, j := range order {
		a := rs.Actions[fired[j]]
		q := res.Actions[j]
		status, reason := WithheldStatus(""), ""
		switch {
		case a.Holdout.Holds(rs.Name, a.Name, c.Key):
			status = HeldOut
			reason = fmt.Sprintf("in the %s holdout group (bucket %d of 10000, below %d)", percent(a.Holdout.BasisPoints),
				rules.HoldoutBucket(rs.Name, a.Name, a.Holdout.Salt, c.Key), a.Holdout.BasisPoints)
		default:
			reason = w.overLimit(a, c, queued, asOf)
			if reason != "" {
				status = Suppressed
			}
		}
		if status == "" {
			queued = append(queued, fired[j])
			continue
		}
		keep[j] = false
		res.Withheld = append(res.Withheld, WithheldAction{QueuedAction: q, Status: status, Reason: reason})
		tr.withheld(a, status, reason)
	}
	n := 0
	for j := range res.Actions {
		if keep[j] {
			res.Actions[n] = res.Actions[j]
			n++
		}
	}
	clear(res.Actions[n:])
	res.Actions = res.Actions[:n]
}

// overLimit returns why action a would exceed a contact limit for c,
// given the actions already accepted in this run (queued, by index), or
// "" when it does not.
func (w *worker) overLimit(a *rules.Action, c *Customer, queued []int, asOf time.Time) string {
	lim := w.e.rs.Limits
	if lim == nil {
		return ""
	}
	if l := lim.PerCustomer; l != nil {
		n, since := w.contacts(c, queued, l.Within, asOf, func(int) bool { return true })
		if n >= l.Count {
			return fmt.Sprintf("contact limit %s reached (%s since %s)", l.Source, contactsN(n), day(since))
		}
	}
	if l := lim.PerChannel[a.Channel]; a.Channel != "" && l != nil {
		acts := w.e.rs.Actions
		n, since := w.contacts(c, queued, l.Within, asOf, func(i int) bool { return i >= 0 && acts[i].Channel == a.Channel })
		if n >= l.Count {
			return fmt.Sprintf("%s contact limit %s reached (%s since %s)", a.Channel, l.Source, contactsN(n), day(since))
		}
	}
	return ""
}

// contacts counts c's contacts within the window before asOf whose
// action index passes match: earlier runs' (State.Contacts) and this
// run's accepted actions. It returns the count and the window's start.
func (w *worker) contacts(c *Customer, queued []int, within time.Duration, asOf time.Time, match func(int) bool) (int, time.Time) {
	from := asOf.Add(-within)
	n := 0
	for _, ct := range c.State.Contacts {
		if ct.At.After(from) && !ct.At.After(asOf) && match(ct.Action) {
			n++
		}
	}
	for _, i := range queued {
		if match(i) {
			n++
		}
	}
	return n, from
}

// percent formats basis points as a percentage: 1000 is "10%", 250 "2.5%".
func percent(bp int) string {
	if bp%100 == 0 {
		return fmt.Sprintf("%d%%", bp/100)
	}
	return fmt.Sprintf("%g%%", float64(bp)/100)
}

func contactsN(n int) string {
	if n == 1 {
		return "1 contact"
	}
	return fmt.Sprintf("%d contacts", n)
}
