package engine

import (
	"time"

	"github.com/expr-lang/expr/ast"

	"github.com/tierflow/tierflow/rules"
)

// Wake-up times (Result.Wake). The expressions' part is recorded while
// the slot programs run (rules.WakeRecorder: the comparisons of measures
// of the as-of that were evaluated, or every run); the engine adds its
// own mechanics, computed from the state a store saves from the result
// (S1 below): the new segments with their since and pending-since dates,
// and the actions queued or held out as last queued at the as-of.
//
// Evaluating again with S1 sees the same values as this evaluation did,
// but where a segmentation moved: its previous segment (previous.X,
// previous_rank.X, days_in_previous.X and the transition helpers, which
// read them) is now the new one. When some condition reads that, the
// customer wakes on the next run, which decides it with S1. Otherwise
// every condition gives what it gave here, each segmentation's matched
// segment is the same, and the moved ones stay where they are. What can
// still change, with time alone, is decided by:
//
//   - stickiness: a segment held by downgrade_grace moves, or clears its
//     pending date, when the grace runs out; one held by min_stay moves
//     when the stay ends; one held by min_stay after its grace ran out
//     starts a new grace period on the next run;
//   - cooldowns: an action whose condition held but whose cooldown had
//     not passed fires when it passes; one queued or held out here waits
//     its cooldown, or fires again on the next run without one; one
//     suppressed by a contact limit is tried again on the next run
//     (contact limits only sort actions that fire, which is a change
//     anyway, so their windows need no time of their own);
//   - coverage: covered ends when the last covering outcome gets too old,
//     pending when the stay without one does, and an outcome reported
//     with a later time counts from that time.
//
// A customer with a rule error is evaluated on every run.

// wakeLayout finds what wake-up times need to know of rs: which
// segmentations' previous state and days_since_covered some condition
// reads, and, for programs that record nothing (the map programs),
// whether some condition reads the as-of at all.
func (e *Engine) wakeLayout(rs *rules.RuleSet) {
	read := identifiers{}
	timed := false
	var node ast.Node
	eachCondition(rs, func(x *rules.Expr) {
		node = x.Program.Node()
		ast.Walk(&node, read)
		timed = timed || (!e.slotted && x.TimeDependent())
	})
	e.prevRead = make([]bool, len(rs.Segmentations))
	e.coveredRead = make([]bool, len(rs.Segmentations))
	for i, s := range rs.Segmentations {
		v := rules.VarsFor(s.Name)
		e.prevRead[i] = read[v.Previous] || read[v.PreviousRank] || read[v.DaysInPrevious]
		e.coveredRead[i] = read[v.DaysSinceCovered]
	}
	e.timedConditions = timed
}

// eachCondition calls fn with every segment's and action's condition.
func eachCondition(rs *rules.RuleSet, fn func(*rules.Expr)) {
	for _, s := range rs.Segmentations {
		for _, seg := range s.Segments {
			if seg.When != nil {
				fn(seg.When)
			}
		}
	}
	for _, a := range rs.Actions {
		if a.When != nil {
			fn(a.When)
		}
	}
}

// soonest keeps the earliest of the instants it is given.
type soonest struct{ t time.Time }

func (s *soonest) at(t time.Time) {
	if s.t.IsZero() || t.Before(s.t) {
		s.t = t
	}
}

// wakeBegin starts recording for a customer evaluated at asOf.
func (w *worker) wakeBegin(asOf time.Time) {
	w.soon = soonest{}
	if w.rec != nil {
		w.rec.Reset(asOf)
	}
}

// mute stops the recorder while payloads run, or starts it again.
func (w *worker) mute(on bool) {
	if w.rec != nil {
		w.rec.Muted = on
	}
}

// wakeUp returns the customer's Wake: asOf for every run, zero for never.
func (w *worker) wakeUp(asOf time.Time, c *Customer, res *Result) time.Time {
	if len(res.Errors) > 0 || w.e.timedConditions {
		return asOf
	}
	s := w.soon
	if r := w.rec; r != nil {
		if r.EveryRun {
			return asOf
		}
		if !r.Wake.IsZero() {
			s.at(r.Wake)
		}
	}
	if !w.stickyWake(res, &s) || !w.actionWake(asOf, res, &s) {
		return asOf
	}
	if w.e.follow.coverage {
		w.coverageWake(asOf, c, res, &s)
	}
	return s.t
}

// stickyWake adds when stickiness lets go of a segment; false when the
// customer must be evaluated on the next run.
func (w *worker) stickyWake(res *Result, s *soonest) bool {
	for i, seg := range w.e.rs.Segmentations {
		d := &res.Segments[i]
		if d.Segment != d.Previous {
			if w.e.prevRead[i] {
				return false
			}
			continue
		}
		k := w.newIdx[i]
		if k < 0 || d.Matched == d.Segment {
			continue
		}
		m := w.e.segs[i].index(d.Matched)
		if m < 0 {
			continue
		}
		cur := seg.Segments[k]
		switch {
		case m > k && cur.DowngradeGrace > 0:
			if d.PendingSince.IsZero() {
				return false // held by min_stay: the next run starts a grace period
			}
			s.at(d.PendingSince.Add(cur.DowngradeGrace))
		case cur.MinStay > 0:
			s.at(d.Since.Add(cur.MinStay))
		}
	}
	return true
}

// actionWake adds when the actions that fired may fire again; false
// when one may on the next run.
func (w *worker) actionWake(asOf time.Time, res *Result, s *soonest) bool {
	for i := range res.Withheld {
		if res.Withheld[i].Status == Suppressed {
			return false
		}
	}
	for _, ai := range w.fired {
		cd := w.e.rs.Actions[ai].Cooldown
		if cd <= 0 {
			return false
		}
		s.at(asOf.Add(cd))
	}
	return true
}
