package engine

import (
	"fmt"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// Trace explains one customer's evaluation: each segmentation's rules in
// the order they were tried, and each action's outcome.
type Trace struct {
	Key           string
	AsOf          time.Time
	Segmentations []*SegmentationTrace // in evaluation order
	Actions       []*ActionTrace       // in file order
	Result        *Result
}

// Outcome is the result of one rule in a trace.
type Outcome string

// Outcomes of a traced rule.
const (
	OutcomeTrue       Outcome = "true"
	OutcomeFalse      Outcome = "false"
	OutcomeError      Outcome = "error"
	OutcomeFallback   Outcome = "fallback"
	OutcomeFired      Outcome = "fired"
	OutcomeCooldown   Outcome = "cooldown"
	OutcomeNotReached Outcome = "not reached"
	// OutcomeHeldOut and OutcomeSuppressed: the action fired but was
	// withheld (WithheldAction).
	OutcomeHeldOut    Outcome = "held_out"
	OutcomeSuppressed Outcome = "suppressed"
)

// FactValue is a fact a rule read and its value for the customer.
type FactValue struct {
	Name  string
	Value any
}

// RuleTrace is one segment's condition as tried for the customer.
type RuleTrace struct {
	Segment string
	Label   string
	When    string
	Outcome Outcome
	Error   string
	Reads   []FactValue
}

// SegmentationTrace explains one segmentation's decision.
type SegmentationTrace struct {
	Name     string
	Label    string
	Previous Assignment
	Tried    []RuleTrace
	Decision Decision
	// Note explains stickiness or an error, in words.
	Note string
	// Coverage is the customer's coverage state in its new segment, and
	// DaysSinceCovered the days since its last covering outcome (-1 for
	// never); CoverageNone when the segment has no target.
	Coverage         CoverageState
	DaysSinceCovered int
}

// ActionTrace explains why an action fired or did not.
type ActionTrace struct {
	Name    string
	Label   string
	When    string
	Outcome Outcome
	// Why says in words why the action did not fire, when it did not.
	Why    string
	Reads  []FactValue
	Queued *QueuedAction
}

func (t *Trace) segmentation(s *rules.Segmentation, prev Assignment) *SegmentationTrace {
	st := &SegmentationTrace{Name: s.Name, Label: s.Label, Previous: prev}
	t.Segmentations = append(t.Segmentations, st)
	return st
}

func (t *Trace) action(a *rules.Action) *ActionTrace {
	at := &ActionTrace{Name: a.Name, Label: a.Label, When: a.When.Source}
	t.Actions = append(t.Actions, at)
	return at
}

// reads returns what x reads, with the values w's environment holds.
func reads(x *rules.Expr, w *worker) []FactValue {
	out := make([]FactValue, len(x.Reads))
	for i, name := range x.Reads {
		out[i] = FactValue{Name: name, Value: w.value(name)}
	}
	return out
}

// The methods below are no-ops on a nil receiver, so evaluation calls
// them unconditionally and pays nothing when not explaining.

func (st *SegmentationTrace) tried(seg *rules.Segment, ok bool, err error, w *worker) {
	if st == nil {
		return
	}
	rt := RuleTrace{Segment: seg.Name, Label: seg.Label, When: seg.When.Source, Outcome: OutcomeFalse, Reads: reads(seg.When, w)}
	switch {
	case err != nil:
		rt.Outcome, rt.Error = OutcomeError, err.Error()
	case ok:
		rt.Outcome = OutcomeTrue
	}
	st.Tried = append(st.Tried, rt)
}

func (st *SegmentationTrace) fallback(seg *rules.Segment) {
	if st == nil {
		return
	}
	st.Tried = append(st.Tried, RuleTrace{Segment: seg.Name, Label: seg.Label, Outcome: OutcomeFallback})
}

func (st *SegmentationTrace) decided(s *rules.Segmentation, d *Decision) {
	if st == nil {
		return
	}
	st.Decision = *d
	for _, seg := range s.Segments[len(st.Tried):] {
		st.Tried = append(st.Tried, RuleTrace{Segment: seg.Name, Label: seg.Label, When: whenSource(seg), Outcome: OutcomeNotReached})
	}
	switch d.Reason {
	case ReasonMinStay:
		st.Note = fmt.Sprintf("%s matched, but min_stay keeps the customer in %s (there since %s)", d.Matched, d.Segment, day(d.Since))
	case ReasonGrace:
		grace := s.Segments[s.SegmentIndex(d.Segment)].DowngradeGrace
		st.Note = fmt.Sprintf("%s matched, but downgrade_grace keeps the customer in %s: pending since %s, moves on %s unless they requalify", d.Matched, d.Segment, day(d.PendingSince), day(d.PendingSince.Add(grace)))
	case ReasonError:
		if d.Segment == "" {
			st.Note = "a condition failed, and the customer had no previous segment: left unassigned"
		} else {
			st.Note = "a condition failed: the previous segment " + d.Segment + " is kept"
		}
	}
}

// factsFailed records a customer left unevaluated because some facts
// could not be used; res holds the kept segments and the errors.
func (t *Trace) factsFailed(rs *rules.RuleSet, c *Customer, res *Result) {
	if t == nil {
		return
	}
	for _, i := range rs.EvalOrder {
		s := rs.Segmentations[i]
		st := t.segmentation(s, c.State.segment(i))
		st.decided(s, &res.Segments[i])
		if d := res.Segments[i]; d.Segment == "" {
			st.Note = "a fact could not be used, and the customer had no previous segment: left unassigned"
		} else {
			st.Note = "a fact could not be used: the previous segment " + d.Segment + " is kept"
		}
	}
	for _, a := range rs.Actions {
		at := t.action(a)
		at.Outcome, at.Why = OutcomeNotReached, "not evaluated: a fact could not be used"
	}
}

// left records a customer who left the facts source: no segment's
// condition was tried, and each segmentation was left or had no segment.
func (t *Trace) left(rs *rules.RuleSet, c *Customer, res *Result) {
	if t == nil {
		return
	}
	for _, i := range rs.EvalOrder {
		s := rs.Segmentations[i]
		st := t.segmentation(s, c.State.segment(i))
		st.decided(s, &res.Segments[i])
		if d := res.Segments[i]; d.Previous != "" {
			st.Note = "left the facts source: no longer in " + d.Previous
		} else {
			st.Note = "left the facts source, with no segment here before"
		}
	}
}

// notForLeft records an action not evaluated for a customer who left the
// facts source, because its condition does not call left().
func (t *Trace) notForLeft(a *rules.Action) {
	if t == nil {
		return
	}
	at := t.action(a)
	at.Outcome, at.Why = OutcomeNotReached, `not evaluated: the customer left the facts source, and the condition does not call left("SEGMENTATION")`
}

func whenSource(seg *rules.Segment) string {
	if seg.When == nil {
		return ""
	}
	return seg.When.Source
}

func day(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.Format("2006-01-02")
}

func (at *ActionTrace) evaluated(x *rules.Expr, ok bool, err error, w *worker) {
	if at == nil {
		return
	}
	at.Reads = reads(x, w)
	switch {
	case err != nil:
		at.Outcome, at.Why = OutcomeError, err.Error()
	case !ok:
		at.Outcome, at.Why = OutcomeFalse, "condition is false"
	default:
		at.Outcome = OutcomeTrue
	}
}

func (at *ActionTrace) cooldown(last time.Time, cooldown time.Duration) {
	if at == nil {
		return
	}
	at.Outcome = OutcomeCooldown
	at.Why = fmt.Sprintf("cooldown: last queued %s, not again before %s", day(last), day(last.Add(cooldown)))
}

func (at *ActionTrace) failed(err error) {
	if at == nil {
		return
	}
	at.Outcome, at.Why = OutcomeError, err.Error()
}

func (at *ActionTrace) fired(q QueuedAction) {
	if at == nil {
		return
	}
	at.Outcome, at.Why = OutcomeFired, ""
	// A copy, so that q does not escape and cost an allocation per fired
	// action when there is no trace.
	queued := q
	at.Queued = &queued
}

// coverage records a segmentation's coverage state.
func (t *Trace) coverage(s *rules.Segmentation, state CoverageState, daysSince int) {
	if t == nil {
		return
	}
	for _, st := range t.Segmentations {
		if st.Name == s.Name {
			st.Coverage, st.DaysSinceCovered = state, daysSince
		}
	}
}

// withheld records an action that fired but was held out or suppressed.
func (t *Trace) withheld(a *rules.Action, status WithheldStatus, reason string) {
	if t == nil {
		return
	}
	for _, at := range t.Actions {
		if at.Name != a.Name {
			continue
		}
		at.Outcome, at.Why, at.Queued = OutcomeSuppressed, reason, nil
		if status == HeldOut {
			at.Outcome = OutcomeHeldOut
		}
	}
}
