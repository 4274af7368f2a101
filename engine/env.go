package engine

import (
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/tierflow/tierflow/rules"
)

// programs are what the engine runs for a rule set: the fast path's
// combined programs, when there is one, and each expression's own.
type programs struct {
	// segmentations[i] decides segmentation i in one run; nil without a
	// fast path. actions computes every action condition's bit; nil when
	// there is none.
	segmentations []*vm.Program
	actions       *vm.Program
	// conditions[i][k] is segment k of segmentation i's condition (nil
	// for the fallback), actionConds[i] action i's, and payloads[i][j]
	// payload field j of action i (nil for a constant).
	conditions  [][]*vm.Program
	actionConds []*vm.Program
	payloads    [][]*vm.Program
}

// mapPrograms are the programs of rs that read the map environment:
// each expression's Program, and the fast path's, if any.
func mapPrograms(rs *rules.RuleSet) programs {
	var p programs
	if rs.Fast != nil {
		p.segmentations, p.actions = rs.Fast.Segmentations, rs.Fast.Actions
	}
	prog := func(x *rules.Expr) *vm.Program {
		if x == nil {
			return nil
		}
		return x.Program
	}
	for _, s := range rs.Segmentations {
		conds := make([]*vm.Program, len(s.Segments))
		for k, seg := range s.Segments {
			conds[k] = prog(seg.When)
		}
		p.conditions = append(p.conditions, conds)
	}
	for _, a := range rs.Actions {
		p.actionConds = append(p.actionConds, prog(a.When))
		payload := make([]*vm.Program, len(a.Payload))
		for j, f := range a.Payload {
			payload[j] = prog(f.Expr)
		}
		p.payloads = append(p.payloads, payload)
	}
	return p
}

// slotPrograms returns the slot programs of rs's fast path, or false
// when it has none that fit rs (a copy that changed the rule set
// without dropping its fast path).
func slotPrograms(rs *rules.RuleSet) (programs, bool) {
	if rs.Fast == nil || rs.Fast.Slotted == nil {
		return programs{}, false
	}
	sp := rs.Fast.Slotted
	if len(sp.Segmentations) != len(rs.Segmentations) || len(sp.Conditions) != len(rs.Segmentations) ||
		len(sp.ActionConditions) != len(rs.Actions) || len(sp.Payloads) != len(rs.Actions) {
		return programs{}, false
	}
	for i, s := range rs.Segmentations {
		if len(sp.Conditions[i]) != len(s.Segments) {
			return programs{}, false
		}
	}
	for i, a := range rs.Actions {
		if len(sp.Payloads[i]) != len(a.Payload) {
			return programs{}, false
		}
	}
	return programs{
		segmentations: sp.Segmentations,
		actions:       sp.Actions,
		conditions:    sp.Conditions,
		actionConds:   sp.ActionConditions,
		payloads:      sp.Payloads,
	}, true
}

// segVars holds the slots evaluation writes for one segmentation: those
// of the state variables (rules.Vars) some expression reads, -1 for the
// others, which are never written (that spares a write, and often an
// allocation, per variable per customer). Names holds the segment names
// boxed once, so publishing a segment does not allocate.
type segVars struct {
	segment, previous, rank, previousRank, daysIn, daysInPrevious int
	overdue, daysSinceCovered                                     int
	names                                                         []any
	s                                                             *rules.Segmentation
	// scan is true when index may compare the names one by one.
	scan bool
}

// maxScannedSegments is how many segments index compares one by one
// before it looks the name up in the segmentation's map instead.
const maxScannedSegments = 8

func newSegVars(s *rules.Segmentation) segVars {
	sv := segVars{s: s, names: make([]any, len(s.Segments)), scan: len(s.Segments) <= maxScannedSegments}
	for k, seg := range s.Segments {
		sv.names[k] = seg.Name
		sv.scan = sv.scan && s.SegmentIndex(seg.Name) == k
	}
	return sv
}

// index returns the index of the segment called name, or -1: what
// rules.Segmentation.SegmentIndex returns, found by comparing the few
// names rather than by hashing.
func (sv *segVars) index(name string) int {
	if !sv.scan {
		return sv.s.SegmentIndex(name)
	}
	for k, seg := range sv.s.Segments {
		if seg.Name == name {
			return k
		}
	}
	return -1
}

// name returns segment idx's boxed name, or other when idx is -1 (no
// segment, or one the rules no longer define).
func (sv *segVars) name(idx int, other string) any {
	if idx >= 0 {
		return sv.names[idx]
	}
	return other
}

// factSlot maps a fact some expression reads from its place in a facts
// row to its slot.
type factSlot struct {
	name        string
	index, slot int
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
//
// The environment is vars, by slot (rules.Slots). With slot programs it
// is the VM's Variables, which they read by index, and Run gets a nil
// environment; otherwise every write also goes to a map, by name, which
// Run gets (env).
type worker struct {
	e       *Engine
	vars    []any
	m       map[string]any
	env     any
	vm      vm.VM
	asOf    time.Time
	asOfAny any
	// prevIdx and newIdx hold the current customer's previous and new
	// segment index per segmentation, -1 for none.
	prevIdx, newIdx []int
	// fired holds the action index of each of the current result's
	// Actions; order and kept are withhold's scratch.
	fired []int
	order []int
	kept  []bool
	// rec records the expressions' wake-up times (nil for map programs),
	// soon the earliest of the engine's own (see wakeUp).
	rec  *rules.WakeRecorder
	soon soonest
}

func (e *Engine) newWorker() *worker {
	w := &worker{e: e, prevIdx: make([]int, len(e.segs)), newIdx: make([]int, len(e.segs))}
	if e.slotted {
		w.vars = e.slots.New()
		w.vm.Variables = w.vars
		if w.rec = e.slots.WakeRecorder(w.vars); w.rec != nil {
			w.rec.Zone = e.zone
		}
	} else {
		w.vars = make([]any, e.slots.Len())
		w.m = make(map[string]any, len(e.facts)+1+6*len(e.segs))
		w.env = w.m
	}
	return w
}

// set writes v into the variable at slot.
func (w *worker) set(slot int, v any) {
	w.vars[slot] = v
	if w.m != nil {
		w.m[w.e.slots.Name(slot)] = v
	}
}

// value returns the variable called name, for explanations and errors;
// nil when evaluation did not write it.
func (w *worker) value(name string) any {
	if i := w.e.slots.Index(name); i >= 0 {
		return w.vars[i]
	}
	return nil
}

// run runs p on the worker's environment.
func (w *worker) run(p *vm.Program) (any, error) {
	return w.vm.Run(p, w.env)
}
