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
	// fast decides segmentations and action conditions in one VM run
	// each; nil when the rule set has none (evaluation is then rule by
	// rule).
	fast  *rules.FastPath
	segs  []segVars
	facts []factSlot
	// absentVar is true when some expression calls left("SEGMENTATION"),
	// which reads rules.AbsentVar.
	absentVar bool
	// zone is the rule set's time zone, in which expressions see the
	// as-of time; asOfDate is true when some expression reads the as-of
	// date (rules.AsOfDateVar).
	zone     *time.Location
	asOfDate bool
	follow   followUp
	pool     sync.Pool
}

// segVars holds what evaluation writes into the environment for one
// segmentation. Vars names only the state variables some expression
// reads; the others are "" and never written, which spares a map write
// (and often an allocation) per variable per customer. Names holds the
// segment names boxed once, so publishing a segment does not allocate.
type segVars struct {
	rules.Vars
	names []any
}

// name returns segment idx's boxed name, or other when idx is -1 (no
// segment, or one the rules no longer define).
func (sv *segVars) name(idx int, other string) any {
	if idx >= 0 {
		return sv.names[idx]
	}
	return other
}

// factSlot maps a fact some expression reads to its place in a facts row.
type factSlot struct {
	name  string
	index int
}

// New prepares an engine for rs. It compiles nothing: it uses the fast
// path rules.Compile built (rs.Fast) and evaluates rule by rule when rs
// has none, as in a rule set built by hand.
func New(rs *rules.RuleSet) *Engine {
	e := &Engine{rs: rs, fast: rs.Fast}
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
	for _, s := range rs.Segmentations {
		sv := segVars{Vars: rules.VarsFor(s.Name), names: make([]any, len(s.Segments))}
		for _, name := range []*string{&sv.Segment, &sv.Previous, &sv.Rank, &sv.PreviousRank, &sv.DaysIn, &sv.DaysInPrevious, &sv.Overdue, &sv.DaysSinceCovered} {
			if !read[*name] {
				*name = ""
			}
		}
		for k, seg := range s.Segments {
			sv.names[k] = seg.Name
		}
		e.segs = append(e.segs, sv)
	}
	e.absentVar = read[rules.AbsentVar]
	e.zone, e.asOfDate = rs.Zone(), read[rules.AsOfDateVar]
	e.follow = newFollowUp(rs)
	for i, f := range rs.Facts.Fields {
		if read[f.Name] {
			e.facts = append(e.facts, factSlot{name: f.Name, index: i})
		}
	}
	e.pool.New = func() any { return e.newWorker() }
	return e
}

// RuleSet returns the rule set the engine evaluates.
func (e *Engine) RuleSet() *rules.RuleSet { return e.rs }

func eachExpr(rs *rules.RuleSet, fn func(*rules.Expr)) {
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
		for _, p := range a.Payload {
			if p.Expr != nil {
				fn(p.Expr)
			}
		}
	}
}

// identifiers collects the names of the identifiers in expression trees:
// every variable a compiled program loads from the environment.
type identifiers map[string]bool

func (ids identifiers) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		ids[id.Value] = true
	}
}

// worker is one goroutine's scratch space: the expression environment,
// reused from customer to customer, and a VM. Neither is safe to share.
type worker struct {
	e       *Engine
	env     map[string]any
	vm      vm.VM
	asOf    time.Time
	asOfAny any
	// prevIdx holds the current customer's previous segment index per
	// segmentation, -1 for none.
	prevIdx []int
	// fired holds the action index of each of the current result's
	// Actions; order and kept are withhold's scratch.
	fired []int
	order []int
	kept  []bool
}

func (e *Engine) newWorker() *worker {
	w := &worker{e: e, env: make(map[string]any, len(e.facts)+1+6*len(e.segs))}
	w.prevIdx = make([]int, len(e.segs))
	return w
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
	e.pool.Put(w)
}

// Explain evaluates one customer like Evaluate and records why each
// segment and action came out as it did.
func (e *Engine) Explain(asOf time.Time, c *Customer) *Trace {
	tr := &Trace{Key: c.Key, AsOf: asOf, Result: &Result{}}
	w := e.newWorker()
	w.eval(asOf, c, tr.Result, tr)
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
	env := w.env
	// The boxed as-of time and date are cached per worker. Expressions
	// see the time in the rule set's zone, where year(as_of) and the
	// other calendar helpers read it, whatever zone the caller gave.
	if !asOf.Equal(w.asOf) || w.asOfAny == nil {
		w.asOf, w.asOfAny = asOf, asOf.In(e.zone)
		env[rules.AsOfVar] = w.asOfAny
		if e.asOfDate {
			env[rules.AsOfDateVar] = rules.DateIn(asOf, e.zone)
		}
	}
	if e.absentVar {
		env[rules.AbsentVar] = c.Absent
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
		env[f.name] = v
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
	if tr == nil && e.fast != nil && e.fast.Actions != nil {
		// One VM run evaluates every action's condition into a bit mask;
		// on an error, each action is evaluated alone to report it.
		if out, err := w.vm.Run(e.fast.Actions, env); err == nil {
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
	idx := w.e.rs.Segmentations[si].SegmentIndex(prev.Segment)
	w.prevIdx[si] = idx
	sv := &w.e.segs[si]
	if sv.Previous != "" {
		w.env[sv.Previous] = sv.name(idx, prev.Segment)
	}
	if sv.PreviousRank != "" {
		w.env[sv.PreviousRank] = idx + 1
	}
	if sv.DaysInPrevious != "" {
		w.env[sv.DaysInPrevious] = days(prev.Since, asOf)
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
		w.env[f.name] = nil
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
		if s.SegmentIndex(prev.Segment) >= 0 {
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

func (w *worker) condition(x *rules.Expr) (bool, error) {
	out, err := w.vm.Run(x.Program, w.env)
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
	if tr == nil && w.e.fast != nil {
		// One VM run decides the segmentation; on an error, fall through
		// to rule-by-rule evaluation, which reports the failing rule.
		if out, err := w.vm.Run(w.e.fast.Segmentations[si], w.env); err == nil {
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
		ok, err := w.condition(seg.When)
		st.tried(seg, ok, err, w.env)
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Key: c.Key, Rule: seg.When.Field, Err: err, Facts: errorFacts(seg.When, w.env)})
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
// read it (segments that depend on it, and actions).
func (w *worker) setNew(si, idx int, since, asOf time.Time) {
	sv := &w.e.segs[si]
	if sv.Segment != "" {
		w.env[sv.Segment] = sv.name(idx, "")
	}
	if sv.Rank != "" {
		w.env[sv.Rank] = idx + 1
	}
	if sv.DaysIn != "" {
		w.env[sv.DaysIn] = days(since, asOf)
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
		ok, err = w.condition(a.When)
	}
	at.evaluated(a.When, ok, err, w.env)
	if err != nil {
		res.Errors = append(res.Errors, RuleError{Key: c.Key, Rule: a.When.Field, Err: err, Facts: errorFacts(a.When, w.env)})
		return
	}
	if !ok {
		return
	}
	if last := c.State.lastAction(ai); a.Cooldown > 0 && !last.IsZero() && asOf.Sub(last) < a.Cooldown {
		at.cooldown(last, a.Cooldown)
		return
	}
	var payload map[string]any
	if len(a.Payload) > 0 {
		payload = make(map[string]any, len(a.Payload))
	}
	for _, p := range a.Payload {
		v := p.Value
		if p.Expr != nil {
			v, err = w.vm.Run(p.Expr.Program, w.env)
			if t, ok := v.(time.Time); ok && p.Expr.Date {
				v = t.Format(time.DateOnly) // a day, not an instant
			}
		}
		if err == nil {
			// Checked here, so that a plan reports what an apply could
			// not write.
			if err = payloadValue(v); p.Expr != nil && errors.As(err, new(nonFinite)) {
				err = fmt.Errorf("%w (a division by zero? safe_div(a, b, default) guards one)", err)
			}
		}
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Key: c.Key, Rule: payloadField(a, p), Err: err, Facts: errorFacts(p.Expr, w.env)})
			at.failed(fmt.Errorf("payload %s: %w", p.Name, err))
			return
		}
		payload[p.Name] = v
	}
	q := QueuedAction{Name: a.Name, Priority: a.Priority, Due: asOf.Add(a.Delay), Payload: payload}
	res.Actions = append(res.Actions, q)
	w.fired = append(w.fired, ai)
	at.fired(q)
}
