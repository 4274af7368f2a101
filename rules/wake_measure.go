package rules

import (
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// wakeCallKinds maps a helper and the shape of its arguments (U for the
// value measured from, T for as_of, D for as_of.date) to what it
// measures.
var wakeCallKinds = map[string]wakeKind{
	"days_since/UT":         wakeDays,
	"days_between/UT":       wakeDays,
	"days_between/TU":       wakeDaysUntil,
	"days_between/UD":       wakeDateDays,
	"days_between/DU":       wakeDateDaysUntil,
	"months_since/UT":       wakeMonths,
	"months_between.in/UTT": wakeMonths,
	"months_between.in/TUT": wakeMonthsUntil,
	"months_between/UD":     wakeDateMonths,
	"months_between/DU":     wakeDateMonthsUntil,
	"year.in/TT":            wakeYear,
	"month.in/TT":           wakeMonth,
	"year/D":                wakeYear,
	"month/D":               wakeMonth,
}

// measure recognizes a measure of the as-of: a variable that holds one,
// or a helper of the as-of and at most one value that does not depend on
// it.
func (f *wakeFinder) measure(n ast.Node) (wakeSpec, bool) {
	spec := wakeSpec{measure: n}
	switch n := n.(type) {
	case *ast.IdentifierNode:
		spec.u = n
		return spec, f.variable(n.Value, &spec.atom)
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || f.cfg.Functions[id.Value] == nil {
			return spec, false
		}
		shape := make([]byte, len(n.Arguments))
		spec.atom.args = make([]wakeArg, len(n.Arguments))
		for i, a := range n.Arguments {
			switch v, _ := a.(*ast.IdentifierNode); {
			case v != nil && v.Value == AsOfVar:
				shape[i], spec.atom.args[i] = 'T', wakeArgAsOf
			case v != nil && v.Value == AsOfDateVar:
				shape[i], spec.atom.args[i] = 'D', wakeArgAsOfDate
			case spec.u == nil && !timeDependent(a):
				shape[i], spec.atom.args[i], spec.u = 'U', wakeArgU, a
			default:
				return spec, false
			}
		}
		kind, ok := wakeCallKinds[id.Value+"/"+string(shape)]
		spec.atom.kind, spec.atom.fn, spec.atom.name = kind, f.cfg.Functions[id.Value].Func, id.Value
		spec.atom.days = kind == wakeDays
		return spec, ok
	}
	return spec, false
}

// variable recognizes a variable that measures the as-of.
func (f *wakeFinder) variable(name string, a *wakeAtom) bool {
	switch name {
	case AsOfVar:
		a.kind = wakeAsOf
		return true
	case AsOfDateVar:
		a.kind = wakeAsOfDate
		return true
	}
	for prefix, kind := range map[string]wakeKind{"days_in.": wakeDaysIn, "days_in_previous.": wakeDaysInPrevious, "days_since_covered.": wakeDaysSinceCovered} {
		if seg, ok := strings.CutPrefix(name, prefix); ok {
			i, known := f.s.wake.segs[seg]
			a.kind, a.seg = kind, i
			return known
		}
	}
	return false
}

// wakePatcher rewrites what wakeFinder found, recording each change.
type wakePatcher struct {
	f    *wakeFinder
	done []struct {
		at  *ast.Node
		old ast.Node
	}
}

func (p *wakePatcher) Visit(node *ast.Node) {
	n := *node
	if spec, ok := p.f.atoms[n]; ok {
		p.patch(node, p.atomCall(spec))
		return
	}
	if id, ok := n.(*ast.IdentifierNode); ok && timeLeaf(id.Value) && !p.f.keep[n] {
		p.patch(node, wakeCall(wakeSlotNames[wakeAnySlot], typed1Type, n.Type(), n))
	}
}

// patch replaces *node with out, which takes its location unless it has
// one.
func (p *wakePatcher) patch(node *ast.Node, out ast.Node) {
	if out.Location() == (file.Location{}) {
		out.SetLocation((*node).Location())
	}
	p.done = append(p.done, struct {
		at  *ast.Node
		old ast.Node
	}{node, *node})
	*node = out
}

// atomCall registers spec's atom and returns the calls that evaluate it:
// wake/ID(U, C) (or (C, U) when the measure is on the right), the
// comparison's own helper, where that evaluates the operands in the
// order the comparison did, else wake/cmp(wake/arm(ID, U), C).
func (p *wakePatcher) atomCall(spec wakeSpec) ast.Node {
	w := &p.f.s.wake
	id := len(w.atoms)
	w.atoms = append(w.atoms, spec.atom)
	u := spec.u
	if u == nil {
		u = &ast.NilNode{}
	}
	// One call fails in one place: where the comparison failed, for a
	// variable, whose measure cannot fail; where the helper failed, for a
	// helper compared with a number, which cannot fail (and is evaluated
	// before or after it alike).
	if id < maxDirectAtoms && (spec.atom.fn == nil || isNumber(spec.vs)) {
		name := directSlotName(id)
		p.f.s.index[name] = w.base + wakeSlots + id
		args := []ast.Node{u, spec.vs}
		if spec.atom.right {
			args = []ast.Node{spec.vs, u}
		}
		c := wakeCall(name, wakeCmpType, boolType, args...)
		if spec.atom.fn != nil {
			c.SetLocation(spec.measure.Location())
		}
		return c
	}
	idNode := &ast.IntegerNode{Value: id}
	idNode.SetType(reflectInt)
	arm := wakeCall(wakeSlotNames[wakeArmSlot], typed2Type, spec.measure.Type(), idNode, u)
	arm.SetLocation(spec.measure.Location())
	args := []ast.Node{arm, spec.vs}
	if spec.atom.right {
		args = []ast.Node{spec.vs, arm}
	}
	return wakeCall(wakeSlotNames[wakeCmpSlot], wakeCmpType, boolType, args...)
}

// isNumber reports whether n is a constant number.
func isNumber(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		return true
	case *ast.ConstantNode:
		switch n.Value.(type) {
		case int, int64, float64:
			return true
		}
	}
	return false
}

// wakeCall is a call of the wake helper in the slot called name, of
// type fn, whose result has the type out.
func wakeCall(name string, fn, out reflectType, args ...ast.Node) *ast.CallNode {
	callee := &ast.IdentifierNode{Value: name}
	callee.SetType(fn)
	c := &ast.CallNode{Callee: callee, Arguments: args}
	c.SetType(out)
	return c
}
