package rules

import (
	"reflect"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm/runtime"
)

// The types of the wake helpers, which expr calls with OpCallTyped.
var (
	wakeCmpType = reflect.TypeOf(func(any, any) bool { return false })
	boolType    = reflect.TypeOf(false)
)

// timeLeaf reports whether the variable called name depends on the as-of.
func timeLeaf(name string) bool {
	switch name {
	case AsOfVar, AsOfDateVar:
		return true
	}
	return strings.HasPrefix(name, "days_in.") || strings.HasPrefix(name, "days_in_previous.") ||
		strings.HasPrefix(name, "days_since_covered.")
}

// zoneArg returns the as_of that a call of a helper dateVisitor made
// passes only for its time zone (date.in(t, as_of) and the like), or nil.
func zoneArg(n ast.Node) ast.Node {
	call, ok := n.(*ast.CallNode)
	if !ok || len(call.Arguments) < 2 {
		return nil
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok || !strings.HasSuffix(id.Value, ".in") {
		return nil
	}
	last := call.Arguments[len(call.Arguments)-1]
	if a, ok := last.(*ast.IdentifierNode); ok && a.Value == AsOfVar {
		return last
	}
	return nil
}

// timeReads counts the reads of the as-of in a tree, those that only
// give a zone left out.
type timeReads struct{ n int }

func (c *timeReads) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if timeLeaf(n.Value) {
			c.n++
		}
	case *ast.CallNode:
		if zoneArg(n) != nil {
			c.n--
		}
	}
}

func timeDependent(n ast.Node) bool {
	c := &timeReads{}
	ast.Walk(&n, c)
	return c.n > 0
}

// TimeDependent reports whether the expression reads the as-of: as_of,
// the as-of date, or a count of days or months up to it.
func (x *Expr) TimeDependent() bool {
	if x == nil || x.Program == nil {
		return false
	}
	return timeDependent(x.Program.Node())
}

// wakeCalls instruments a program's tree for wake-up times (see
// wake.go): each comparison of a measure of the as-of with a value that
// does not depend on it becomes wake/cmp(wake/arm(ID, U), C), and each
// other read of the as-of wake/any(X). It returns a function that puts
// the tree back as it was.
func wakeCalls(root *ast.Node, s *Slots, cfg *conf.Config) (undo func()) {
	f := &wakeFinder{s: s, cfg: cfg, atoms: map[ast.Node]wakeSpec{}, keep: map[ast.Node]bool{}}
	ast.Walk(root, f)
	p := &wakePatcher{f: f}
	ast.Walk(root, p)
	return func() {
		for i := len(p.done) - 1; i >= 0; i-- {
			*p.done[i].at = p.done[i].old
		}
	}
}

// wakeSpec is a comparison wakeFinder found: the atom, the node of the
// measure and of the value it measures from (nil for none), and the
// other operand.
type wakeSpec struct {
	atom           wakeAtom
	measure, u, vs ast.Node
}

// wakeFinder finds the comparisons to instrument, and the reads of the
// as-of that are not to be wrapped: those the comparisons measure, and
// zone arguments.
type wakeFinder struct {
	s     *Slots
	cfg   *conf.Config
	atoms map[ast.Node]wakeSpec
	keep  map[ast.Node]bool
}

func (f *wakeFinder) Visit(node *ast.Node) {
	n := *node
	if z := zoneArg(n); z != nil {
		f.keep[z] = true
	}
	op, l, r, cmp, ok := f.comparison(n)
	if !ok {
		return
	}
	spec, ok := f.measure(l)
	spec.vs, spec.atom.op = r, op
	if !ok || timeDependent(r) {
		spec, ok = f.measure(r)
		spec.vs, spec.atom.op, spec.atom.right = l, mirror(op), true
		if !ok || timeDependent(l) {
			return
		}
	}
	spec.atom.compare = cmp
	f.atoms[n] = spec
	f.keepLeaves(spec.measure)
}

// keepLeaves marks the reads of the as-of in a measure.
func (f *wakeFinder) keepLeaves(m ast.Node) {
	if _, ok := m.(*ast.IdentifierNode); ok {
		f.keep[m] = true
		return
	}
	for _, a := range m.(*ast.CallNode).Arguments {
		if id, ok := a.(*ast.IdentifierNode); ok && timeLeaf(id.Value) {
			f.keep[a] = true
		}
	}
}

// comparisonOps are the operators whose comparisons are instrumented,
// with the function that compares as the VM does.
var comparisonOps = map[string]func(a, b any) bool{
	"<": runtime.Less, ">": runtime.More, "<=": runtime.LessOrEqual, ">=": runtime.MoreOrEqual,
	"==": runtime.Equal, "!=": func(a, b any) bool { return !runtime.Equal(a, b) },
}

// dateComparisons are the helpers the comparisons of two dates call.
var dateComparisons = map[string]string{"date.lt": "<", "date.gt": ">", "date.le": "<=", "date.ge": ">="}

// comparison returns a comparison's operator, operands and comparing
// function.
func (f *wakeFinder) comparison(n ast.Node) (op string, l, r ast.Node, cmp func(a, b any) bool, ok bool) {
	switch n := n.(type) {
	case *ast.BinaryNode:
		cmp, ok = comparisonOps[n.Operator]
		return n.Operator, n.Left, n.Right, cmp, ok
	case *ast.CallNode:
		id, isID := n.Callee.(*ast.IdentifierNode)
		if !isID || len(n.Arguments) != 2 || dateComparisons[id.Value] == "" || f.cfg.Functions[id.Value] == nil {
			return "", nil, nil, nil, false
		}
		fn := f.cfg.Functions[id.Value].Func
		cmp = func(a, b any) bool {
			out, err := fn(a, b)
			if err != nil {
				panic(err) // as typed2 does
			}
			return out.(bool)
		}
		return dateComparisons[id.Value], n.Arguments[0], n.Arguments[1], cmp, true
	}
	return "", nil, nil, nil, false
}

type reflectType = reflect.Type

var reflectInt = reflect.TypeOf(0)
