package rules

import (
	"strconv"
	"strings"
	"time"
)

// Wake-up times. A run that evaluates only the customers who can have
// changed needs, for each customer it evaluates, the earliest as-of at
// which evaluating it again with the same facts and the state the run
// saves could come out differently. The engine computes the part that
// comes from its own mechanics (stickiness, cooldowns, coverage); the
// part that comes from expressions is recorded while they run, by the
// slot programs, which Compile instruments (see wakeCalls):
//
//   - a comparison f(as_of) OP c, where f is a monotone step function of
//     the as-of (as_of itself, the as-of date, days_since, days_between
//     and months_between against the as-of, days_in, days_in_previous,
//     days_since_covered, year(as_of)) or a step function whose steps are
//     known (month(as_of)), and c does not depend on the as-of, becomes a
//     call that compares exactly as the operator does and records the
//     first instant after the as-of at which the comparison can give the
//     other answer;
//   - any other read of a value that depends on the as-of becomes a call
//     that records that the customer must be evaluated on every run.
//
// Only what a customer's evaluation actually runs is recorded: the
// engine short-circuits && and || and ?: and stops at the first segment
// whose condition holds. That is enough. Take the evaluation at a later
// as-of t, before the earliest recorded instant: the VM starts in the
// same state and executes the same instructions on the same values for
// as long as no value differs, and a value can differ only where it is
// read from the as-of; every such read is either a recorded comparison,
// which gives the same answer before its instant, or a recorded every
// run. So the path, every instruction on it and its result are the
// same, including which comparisons it reaches: one it skipped at the
// as-of it skips at t too.

// WakeRecorder collects, while one customer's expressions run, the
// earliest instant after the as-of at which one of the comparisons they
// evaluated could change its answer, or that one of them reads the as-of
// in a way that cannot be analysed. Each slot environment (Slots.New) has
// its own, which Slots.WakeRecorder returns; the engine sets it up for
// every customer (Reset, and the times below) and reads Wake and
// EveryRun when the customer is decided.
type WakeRecorder struct {
	// AsOf is the evaluation's as-of and Zone the rule set's time zone.
	AsOf time.Time
	Zone *time.Location
	// Since, PrevSince and Covered hold, per segmentation (indexed like
	// RuleSet.Segmentations), when the customer entered its new segment,
	// its previous one, and when it was last covered (zero for none): what
	// days_in, days_in_previous and days_since_covered count from. The
	// engine writes those that some expression reads.
	Since, PrevSince, Covered []time.Time
	// Muted stops recording while it is true: the engine mutes payloads,
	// which only run for an action that fires, a change in itself.
	Muted bool
	// Wake is the earliest instant recorded, after AsOf; zero for none.
	Wake time.Time
	// EveryRun is true when an expression read the as-of in a way that
	// was not analysed, or an instant not after AsOf was recorded.
	EveryRun bool

	s   *Slots
	env []any
	// atom and u are the comparison being evaluated and the value it
	// measures from, set by arm and read by cmp.
	atom int
	u    any
	args [3]any
}

// Reset clears the recorder for a customer evaluated at asOf.
func (r *WakeRecorder) Reset(asOf time.Time) {
	r.AsOf, r.Wake, r.EveryRun, r.Muted = asOf, time.Time{}, false, false
}

// At records that the customer's outcome may change at t: an instant
// not after AsOf means on every run.
func (r *WakeRecorder) At(t time.Time) {
	if !t.After(r.AsOf) {
		r.EveryRun = true
		return
	}
	if r.Wake.IsZero() || t.Before(r.Wake) {
		r.Wake = t
	}
}

// The wake helpers' slots, from wakeTable.base, and their names; like the
// other helpers' names they contain a slash, which no variable can.
const (
	wakeArmSlot = iota
	wakeCmpSlot
	wakeAnySlot
	wakeRecSlot
	wakeSlots
)

// maxDirectAtoms is how many comparisons have a helper of their own,
// which evaluates them in one call, in the slots after the wake helpers';
// the others are evaluated by wake/arm and wake/cmp.
const maxDirectAtoms = 64

// directSlotName is the variable the helper of comparison id is in.
func directSlotName(id int) string { return "wake/" + strconv.Itoa(id) }

var wakeSlotNames = [wakeSlots]string{"wake/arm", "wake/cmp", "wake/any", "wake/rec"}

// wakeTable is what a Slots holds for wake-up times: where the helpers
// are, the segmentations by name, and every comparison instrumented.
type wakeTable struct {
	base          int
	asOf, asOfDay int
	segs          map[string]int
	atoms         []wakeAtom
}

// initWake lays out the wake helpers' slots after the typed helpers'.
func (s *Slots) initWake() {
	s.wake.base = len(s.names) + len(s.funcs)
	for i, name := range wakeSlotNames {
		s.index[name] = s.wake.base + i
	}
	s.wake.asOf, s.wake.asOfDay = s.index[AsOfVar], s.index[AsOfDateVar]
	s.wake.segs = map[string]int{}
	for _, n := range s.names {
		if seg, ok := strings.CutPrefix(n, "segment."); ok {
			s.wake.segs[seg] = len(s.wake.segs)
		}
	}
}

// bindWake gives env its recorder and the helpers bound to it.
func (s *Slots) bindWake(env []any) {
	n := len(s.wake.segs)
	r := &WakeRecorder{s: s, env: env, Zone: time.UTC,
		Since: make([]time.Time, n), PrevSince: make([]time.Time, n), Covered: make([]time.Time, n)}
	b := s.wake.base
	env[b+wakeArmSlot] = func(id, u any) any { return r.arm(id.(int), u) }
	env[b+wakeCmpSlot] = func(a, b any) bool { return r.cmp(a, b) }
	env[b+wakeAnySlot] = func(v any) any {
		if !r.Muted {
			r.EveryRun = true
		}
		return v
	}
	env[b+wakeRecSlot] = r
	for id := range min(len(s.wake.atoms), maxDirectAtoms) {
		a := &s.wake.atoms[id]
		env[b+wakeSlots+id] = func(x, y any) bool { return r.direct(a, x, y) }
	}
}

// WakeRecorder returns the recorder of env, an environment from New; nil
// for any other.
func (s *Slots) WakeRecorder(env []any) *WakeRecorder {
	if i := s.wake.base + wakeRecSlot; s.wake.segs != nil && i < len(env) {
		r, _ := env[i].(*WakeRecorder)
		return r
	}
	return nil
}

// arm starts comparison id: it returns the value the comparison
// measures, and keeps u for cmp.
func (r *WakeRecorder) arm(id int, u any) any {
	r.atom, r.u = id, u
	return r.measure(&r.s.wake.atoms[id], u)
}

// measure returns what a measures, computed as the expression would: its
// helper, called with u and the as-of from the environment, or u itself
// for a variable.
func (r *WakeRecorder) measure(a *wakeAtom, u any) any {
	if a.fn == nil {
		return u
	}
	args := r.args[:len(a.args)]
	for i, k := range a.args {
		switch k {
		case wakeArgU:
			args[i] = u
		case wakeArgAsOf:
			args[i] = r.env[r.s.wake.asOf]
		case wakeArgAsOfDate:
			args[i] = r.env[r.s.wake.asOfDay]
		}
	}
	v, err := a.fn(args...)
	clear(args)
	if err != nil {
		panic(err) // as expr's VM does with a helper's error
	}
	return v
}

// cmp ends the comparison arm started: it compares a and b as the
// operator does, and records when the answer can change.
func (r *WakeRecorder) cmp(a, b any) bool {
	at := &r.s.wake.atoms[r.atom]
	out := at.compare(a, b)
	if !r.Muted {
		v, c := a, b
		if at.right {
			v, c = b, a
		}
		at.record(r, r.u, v, c)
	}
	r.u = nil
	return out
}

// days is direct for days_since(u) and days_between(u, as_of) of a time
// u: what the helpers compute (twoTimes, daysBetween) and how they fail,
// without calling them.
func (r *WakeRecorder) days(a *wakeAtom, u, c any) bool {
	from, ok := u.(time.Time)
	if !ok {
		panic(nullArg(a.name, u))
	}
	asOf, ok := r.env[r.s.wake.asOf].(time.Time)
	if !ok {
		panic(nullArg(a.name, r.env[r.s.wake.asOf]))
	}
	n := daysBetween(from, asOf)
	v := IntValue(n)
	var out bool
	if a.right {
		out = a.compare(c, v)
	} else {
		out = a.compare(v, c)
	}
	if r.Muted {
		return out
	}
	// The usual case, days_since(t) > 365, without flip's dispatch.
	if ci, ok := c.(int); ok && ci > -1e8 && ci < 1e8 {
		if k, ok := thresholdInt(n, a.op, ci); ok {
			if t, ok := daysReach(from, k); ok {
				r.At(t)
			}
		}
		return out
	}
	a.record(r, u, v, c)
	return out
}

// direct is comparison a in one call, with its operands as written: the
// value measured from (u) and the other operand (c), swapped when the
// measure is on the right.
func (r *WakeRecorder) direct(a *wakeAtom, x, y any) bool {
	u, c := x, y
	if a.right {
		u, c = y, x
	}
	if a.days {
		return r.days(a, u, c)
	}
	v := r.measure(a, u)
	var out bool
	if a.right {
		out = a.compare(c, v)
	} else {
		out = a.compare(v, c)
	}
	if !r.Muted {
		a.record(r, u, v, c)
	}
	return out
}
