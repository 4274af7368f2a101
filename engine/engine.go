package engine

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/tierflow/tierflow/rules"
)

// Engine evaluates one compiled rule set. It is safe for concurrent use.
type Engine struct {
	rs *rules.RuleSet
	// progs are the programs evaluation runs. With slotted, they are the
	// fast path's slot programs (rules.SlotPrograms), which read the
	// environment by slot; otherwise those that read it from a map by
	// name: each expression's Program and the fast path's, if any (a rule
	// set built by hand has none and is evaluated rule by rule).
	progs   programs
	slotted bool
	// slots lays out the environment: the slot programs', or, for map
	// programs, the rule set's variables by index all the same.
	slots *rules.Slots
	segs  []segVars
	facts []factSlot
	// absentSlot is rules.AbsentVar's slot when some expression calls
	// left("SEGMENTATION"), which reads it, and -1 otherwise.
	absentSlot int
	// zone is the rule set's time zone, in which expressions see the
	// as-of time; asOfDateSlot is rules.AsOfDateVar's slot when some
	// expression reads the as-of date, and -1 otherwise.
	zone         *time.Location
	asOfSlot     int
	asOfDateSlot int
	follow       followUp
	pool         sync.Pool
	// prevRead[i] and coveredRead[i] are true when some condition reads
	// segmentation i's previous state, or days_since_covered;
	// timedConditions when some condition reads the as-of and the
	// programs record no wake-up times (see wakeLayout).
	prevRead, coveredRead []bool
	timedConditions       bool
}

// New prepares an engine for rs. It compiles nothing: it uses the fast
// path rules.Compile built (rs.Fast), its slot programs when it has them,
// and evaluates rule by rule when rs has none, as in a rule set built by
// hand.
func New(rs *rules.RuleSet) *Engine {
	e := &Engine{rs: rs}
	// read holds every name some expression reads: those its Reads
	// lists for explanations, and every identifier its program loads.
	read := identifiers{}
	eachExpr(rs, func(x *rules.Expr) {
		for _, r := range x.Reads {
			read[r] = true
		}
		node := x.Program.Node()
		ast.Walk(&node, read)
	})
	e.progs, e.slotted = slotPrograms(rs)
	if e.slotted {
		e.slots = rs.Fast.Slotted.Slots
	}
	if !e.slotted || !e.layout(rs, read) {
		e.progs, e.slotted, e.slots = mapPrograms(rs), false, rules.NewSlots(rs)
		e.layout(rs, read)
	}
	e.zone = rs.Zone()
	e.follow = newFollowUp(rs)
	e.wakeLayout(rs)
	e.pool.New = func() any { return e.newWorker() }
	return e
}

// layout finds the slot of every variable evaluation writes: the
// segmentations' state variables, facts, the as-of date and the absent
// flag that some expression reads (read), and the as-of time. It reports
// whether e.slots has them all.
func (e *Engine) layout(rs *rules.RuleSet, read identifiers) bool {
	ok := true
	slot := func(name string) int {
		if !read[name] {
			return -1
		}
		i := e.slots.Index(name)
		ok = ok && i >= 0
		return i
	}
	e.segs = e.segs[:0]
	for _, s := range rs.Segmentations {
		v, sv := rules.VarsFor(s.Name), newSegVars(s)
		sv.segment, sv.previous, sv.rank, sv.previousRank = slot(v.Segment), slot(v.Previous), slot(v.Rank), slot(v.PreviousRank)
		sv.daysIn, sv.daysInPrevious = slot(v.DaysIn), slot(v.DaysInPrevious)
		sv.overdue, sv.daysSinceCovered = slot(v.Overdue), slot(v.DaysSinceCovered)
		e.segs = append(e.segs, sv)
	}
	e.facts = e.facts[:0]
	for i, f := range rs.Facts.Fields {
		if read[f.Name] {
			e.facts = append(e.facts, factSlot{name: f.Name, index: i, slot: slot(f.Name)})
		}
	}
	e.absentSlot, e.asOfDateSlot = slot(rules.AbsentVar), slot(rules.AsOfDateVar)
	e.asOfSlot = e.slots.Index(rules.AsOfVar)
	return ok && e.asOfSlot >= 0
}

// RuleSet returns the rule set the engine evaluates.
func (e *Engine) RuleSet() *rules.RuleSet { return e.rs }

// eachExpr calls fn with every condition (eachCondition) and every
// payload expression.
func eachExpr(rs *rules.RuleSet, fn func(*rules.Expr)) {
	eachCondition(rs, fn)
	for _, a := range rs.Actions {
		for _, p := range a.Payload {
			if p.Expr != nil {
				fn(p.Expr)
			}
		}
	}
}

// Evaluate evaluates one customer at asOf, an instant: expressions see it
// in the rule set's time zone (rules.RuleSet.Zone), whatever zone it
// comes in, and the as-of date is its day there.
func (e *Engine) Evaluate(asOf time.Time, c *Customer) *Result {
	res := &Result{}
	e.EvaluateInto(asOf, c, res)
	return res
}

// EvaluateInto is Evaluate writing into res, reusing its slices, for
// loops over many customers.
func (e *Engine) EvaluateInto(asOf time.Time, c *Customer, res *Result) {
	w := e.pool.Get().(*worker)
	w.eval(asOf, c, res, nil)
	res.Wake = w.wakeUp(asOf, c, res)
	e.pool.Put(w)
}

// Explain evaluates one customer like Evaluate and records why each
// segment and action came out as it did.
func (e *Engine) Explain(asOf time.Time, c *Customer) *Trace {
	tr := &Trace{Key: c.Key, AsOf: asOf, Result: &Result{}}
	w := e.newWorker()
	w.eval(asOf, c, tr.Result, tr)
	tr.Result.Wake = w.wakeUp(asOf, c, tr.Result)
	return tr
}

func days(from, to time.Time) int {
	if from.IsZero() {
		return 0
	}
	return rules.DaysBetween(from, to)
}

func (w *worker) eval(asOf time.Time, c *Customer, res *Result, tr *Trace) {
	e := w.e
	rs := e.rs
	res.reset(len(rs.Segmentations))
	w.wakeBegin(asOf)
	// The boxed as-of time and date are cached per worker. Expressions
	// see the time in the rule set's zone, where year(as_of) and the
	// other calendar helpers read it, whatever zone the caller gave.
	if !asOf.Equal(w.asOf) || w.asOfAny == nil {
		w.asOf, w.asOfAny = asOf, asOf.In(e.zone)
		w.set(e.asOfSlot, w.asOfAny)
		if e.asOfDateSlot >= 0 {
			w.set(e.asOfDateSlot, rules.DateIn(asOf, e.zone))
		}
	}
	if e.absentSlot >= 0 {
		w.set(e.absentSlot, c.Absent)
	}
	if c.Absent {
		w.left(asOf, c, res, tr)
		return
	}
	for _, fe := range c.FactErrors {
		res.Errors = append(res.Errors, RuleError{Key: c.Key, Rule: factField(fe.Fact), Err: fe.Err})
	}
	for _, f := range e.facts {
		var v any
		if f.index < len(c.Facts) {
			v = c.Facts[f.index]
		}
		// x-x is 0 for every finite number and NaN for NaN and the
		// infinities, which readers should have refused (rules.Field.Coerce
		// does).
		if x, ok := v.(float64); ok && x-x != 0 {
			res.Errors = append(res.Errors, RuleError{Key: c.Key, Rule: factField(f.name), Err: fmt.Errorf("fact %q: %w", f.name, nonFinite(x))})
		}
		w.set(f.slot, v)
	}
	if len(res.Errors) > 0 {
		w.keep(asOf, c, res, tr)
		return
	}
	for i := range rs.Segmentations {
		w.setPrevious(i, c.State.segment(i), asOf)
	}
	for _, i := range rs.EvalOrder {
		w.decide(i, asOf, c, res, tr)
	}
	if e.follow.coverage {
		w.coverage(asOf, c, res, tr)
	}
	mask := -1
	if tr == nil && e.progs.actions != nil {
		// One VM run evaluates every action's condition into a bit mask;
		// on an error, each action is evaluated alone to report it.
		if out, err := w.run(e.progs.actions); err == nil {
			if m, ok := out.(int); ok {
				mask = m
			}
		}
	}
	w.fired = w.fired[:0]
	for i := range rs.Actions {
		w.action(i, asOf, c, res, tr, mask)
	}
	if e.follow.withhold && len(res.Actions) > 0 {
		w.withhold(asOf, c, res, tr)
	}
}

// setPrevious publishes a segmentation's previous state to the
// expressions that read it, and records its index in prevIdx.
func (w *worker) setPrevious(si int, prev Assignment, asOf time.Time) {
	sv := &w.e.segs[si]
	idx := sv.index(prev.Segment)
	w.prevIdx[si] = idx
	if sv.previous >= 0 {
		w.set(sv.previous, sv.name(idx, prev.Segment))
	}
	if sv.previousRank >= 0 {
		w.set(sv.previousRank, rules.IntValue(idx+1))
	}
	if sv.daysInPrevious >= 0 {
		w.set(sv.daysInPrevious, rules.IntValue(days(prev.Since, asOf)))
		if w.rec != nil {
			w.rec.PrevSince[si] = prev.Since
		}
	}
}

// left decides a customer who left the facts source (Customer.Absent):
// every fact is null, each segmentation where it had a segment is left
// (ReasonLeft), no segment's condition is evaluated, and only the actions
// that call left("SEGMENTATION") are, on the slow path.
func (w *worker) left(asOf time.Time, c *Customer, res *Result, tr *Trace) {
	rs := w.e.rs
	res.Left = true
	for _, f := range w.e.facts {
		w.set(f.slot, nil)
	}
	for i := range rs.Segmentations {
		prev := c.State.segment(i)
		w.setPrevious(i, prev, asOf)
		w.setNew(i, -1, time.Time{}, asOf)
		d := &res.Segments[i]
		d.Previous = prev.Segment
		if prev.Segment != "" {
			d.Reason = ReasonLeft
		}
	}
	tr.left(rs, c, res)
	if w.e.follow.coverage {
		w.coverage(asOf, c, res, tr)
	}
	w.fired = w.fired[:0]
	for i, a := range rs.Actions {
		if !a.CallsLeft {
			tr.notForLeft(a)
			continue
		}
		w.action(i, asOf, c, res, tr, -1)
	}
	if w.e.follow.withhold && len(res.Actions) > 0 {
		w.withhold(asOf, c, res, tr)
	}
}

// factField is a fact's path in rule errors.
func factField(name string) string { return "facts." + name }

// keep decides every segmentation of a customer whose facts could not be
// used as failed: each keeps its previous segment (none if the rules no
// longer define it), and no action is queued.
func (w *worker) keep(asOf time.Time, c *Customer, res *Result, tr *Trace) {
	rs := w.e.rs
	for i, s := range rs.Segmentations {
		prev := c.State.segment(i)
		d := &res.Segments[i]
		d.Previous, d.Reason = prev.Segment, ReasonError
		w.newIdx[i] = s.SegmentIndex(prev.Segment)
		if w.newIdx[i] >= 0 {
			d.Assignment = prev
		}
	}
	tr.factsFailed(rs, c, res)
	if w.e.follow.coverage {
		w.coverage(asOf, c, res, nil)
	}
}

// errNullCondition reports a condition that produced null, which happens
// when it is a nullable bool fact on its own.
var errNullCondition = errors.New("condition is null, not true or false (use coalesce(x, false))")

// condition runs p, a condition's program.
func (w *worker) condition(p *vm.Program) (bool, error) {
	out, err := w.run(p)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, errNullCondition
	}
	return b, nil
}

func (w *worker) decide(si int, asOf time.Time, c *Customer, res *Result, tr *Trace) {
	s := w.e.rs.Segmentations[si]
	prev := c.State.segment(si)
	prevIdx := w.prevIdx[si]
	d := &res.Segments[si]
	d.Previous = prev.Segment
	var st *SegmentationTrace
	if tr != nil {
		st = tr.segmentation(s, prev)
	}

	matched := -1
	if tr == nil && w.e.progs.segmentations != nil {
		// One VM run decides the segmentation; on an error, fall through
		// to rule-by-rule evaluation, which reports the failing rule.
		if out, err := w.run(w.e.progs.segmentations[si]); err == nil {
			if i, ok := out.(int); ok {
				matched = i
			}
		}
	}
	for k, seg := range s.Segments {
		if matched >= 0 {
			break
		}
		if seg.Fallback {
			matched = k
			st.fallback(seg)
			break
		}
		ok, err := w.condition(w.e.progs.conditions[si][k])
		st.tried(seg, ok, err, w)
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Key: c.Key, Rule: seg.When.Field, Err: err, Facts: errorFacts(seg.When, w)})
			d.Assignment = prev
			d.Reason = ReasonError
			if prevIdx < 0 {
				d.Assignment = Assignment{}
			}
			w.setNew(si, prevIdx, d.Assignment.Since, asOf)
			st.decided(s, d)
			return
		}
		if ok {
			matched = k
			break
		}
	}

	chosen, reason := matched, ReasonMatched
	if s.Segments[matched].Fallback {
		reason = ReasonFallback
	}
	var pending time.Time
	if prevIdx >= 0 && matched != prevIdx {
		cur := s.Segments[prevIdx]
		if matched > prevIdx && cur.DowngradeGrace > 0 {
			pending = prev.PendingSince
			if pending.IsZero() || pending.After(asOf) {
				pending = asOf
			}
			if asOf.Sub(pending) < cur.DowngradeGrace {
				chosen, reason = prevIdx, ReasonGrace
			} else {
				pending = time.Time{}
			}
		}
		if chosen != prevIdx && cur.MinStay > 0 && asOf.Sub(prev.Since) < cur.MinStay {
			chosen, reason = prevIdx, ReasonMinStay
		}
	}
	d.Segment = s.Segments[chosen].Name
	d.Matched = s.Segments[matched].Name
	d.Reason = reason
	d.Since = asOf
	if chosen == prevIdx {
		d.Since = prev.Since
		d.PendingSince = pending
	}
	w.setNew(si, chosen, d.Since, asOf)
	st.decided(s, d)
}

// setNew publishes a segmentation's new state to the expressions that
// read it (segments that depend on it, and actions), and records its
// index in newIdx.
func (w *worker) setNew(si, idx int, since, asOf time.Time) {
	w.newIdx[si] = idx
	sv := &w.e.segs[si]
	if sv.segment >= 0 {
		w.set(sv.segment, sv.name(idx, ""))
	}
	if sv.rank >= 0 {
		w.set(sv.rank, rules.IntValue(idx+1))
	}
	if sv.daysIn >= 0 {
		w.set(sv.daysIn, rules.IntValue(days(since, asOf)))
		if w.rec != nil {
			w.rec.Since[si] = since
		}
	}
}

// action decides one action. mask holds every action's condition as bits
// when the fast path computed them, or -1.
func (w *worker) action(ai int, asOf time.Time, c *Customer, res *Result, tr *Trace, mask int) {
	a := w.e.rs.Actions[ai]
	var at *ActionTrace
	if tr != nil {
		at = tr.action(a)
	}
	var ok bool
	var err error
	if mask >= 0 {
		ok = mask&(1<<ai) != 0
	} else {
		ok, err = w.condition(w.e.progs.actionConds[ai])
	}
	at.evaluated(a.When, ok, err, w)
	if err != nil {
		res.Errors = append(res.Errors, RuleError{Key: c.Key, Rule: a.When.Field, Err: err, Facts: errorFacts(a.When, w)})
		return
	}
	if !ok {
		return
	}
	if last := c.State.lastAction(ai); a.Cooldown > 0 && !last.IsZero() && asOf.Sub(last) < a.Cooldown {
		at.cooldown(last, a.Cooldown)
		w.soon.at(last.Add(a.Cooldown)) // it fires then, unless its condition changes first
		return
	}
	var payload map[string]any
	if len(a.Payload) > 0 {
		payload = make(map[string]any, len(a.Payload))
		w.mute(true) // the action fires: what payloads read changes nothing more
	}
	for j, p := range a.Payload {
		v := p.Value
		if p.Expr != nil {
			v, err = w.run(w.e.progs.payloads[ai][j])
			if t, ok := v.(time.Time); ok && p.Expr.Date {
				v = t.Format(time.DateOnly) // a day, not an instant
			}
		}
		if err == nil {
			// Checked here, so that a plan reports what an apply could
			// not write.
			if err = payloadValue(v); err != nil && p.Expr != nil && errors.As(err, new(nonFinite)) {
				err = fmt.Errorf("%w (a division by zero? safe_div(a, b, default) guards one)", err)
			}
		}
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Key: c.Key, Rule: payloadField(a, p), Err: err, Facts: errorFacts(p.Expr, w)})
			at.failed(fmt.Errorf("payload %s: %w", p.Name, err))
			w.mute(false)
			return
		}
		payload[p.Name] = v
	}
	w.mute(false)
	q := QueuedAction{Name: a.Name, Priority: a.Priority, Due: asOf.Add(a.Delay), Payload: payload}
	res.Actions = append(res.Actions, q)
	w.fired = append(w.fired, ai)
	at.fired(q)
}
