package rules

import (
	"strconv"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// dateVisitor rewrites the date helpers by the types of their arguments,
// once the tree is type-checked (expr runs visitors with Reset and
// ShouldRepeat after a check, again until none changes anything):
//
//   - days_since(d) and months_since(d) of a date count from the as-of
//     date: days_between(d, as_of.date), months_between(d, as_of.date);
//   - where a date meets a time in days_between or months_between, the
//     time becomes its day in the rule set's zone (date.in);
//   - year(t), month(t), months_between(a, b) and date(t) of times read
//     them in the rule set's zone, which the as-of time carries;
//   - coalesce of dates becomes a ?? chain, so that its type is date.
//
// days_since(t) and days_between(a, b) of two times are left alone: they
// count whole 24-hour periods, whatever the zone. Errors are kept from
// the last walk only, when every node has its final type.
type dateVisitor struct {
	// dates is true when the schema has date facts; only then is a value
	// of unknown type an error for a date helper (it could be a date).
	dates   bool
	errs    []macroError
	applied bool
}

func (v *dateVisitor) Reset()             { v.errs, v.applied = nil, false }
func (v *dateVisitor) ShouldRepeat() bool { return v.applied }

// valKind is what a node holds, as far as the checker knows.
type valKind int

const (
	valUnknown valKind = iota
	valTime
	valDate
	valNil
)

func valKindOf(n ast.Node) valKind {
	switch n := n.(type) {
	case *ast.NilNode:
		return valNil
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "coalesce" {
			return coalesceKind(n.Arguments)
		}
	}
	switch n.Type() {
	case dateType:
		return valDate
	case timeType:
		return valTime
	}
	return valUnknown
}

// coalesceKind is the kind of coalesce(args...): dates or times, when
// all the arguments that are not nil are.
func coalesceKind(args []ast.Node) valKind {
	k := valNil
	for _, a := range args {
		switch ak := valKindOf(a); {
		case ak == valNil:
		case k == valNil:
			k = ak
		case ak != k:
			return valUnknown
		}
	}
	return k
}

func (v *dateVisitor) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	switch id.Value {
	case "days_since", "months_since":
		v.since(node, call, id.Value)
	case "days_between", "months_between":
		v.between(call, id.Value)
	case "year", "month":
		v.calendar(node, call, id.Value)
	case "date":
		v.date(node, call)
	case "coalesce":
		v.coalesce(node, call)
	}
}

// patch replaces node with out, a node made here at loc (or one of the
// node's arguments, which keeps its own location).
func (v *dateVisitor) patch(node *ast.Node, out ast.Node, loc file.Location) {
	if out.Location() == (file.Location{}) {
		out.SetLocation(loc)
	}
	ast.Patch(node, out)
	v.applied = true
}

func (v *dateVisitor) fail(n ast.Node, hint, msg string) {
	v.errs = append(v.errs, macroError{loc: n.Location(), msg: msg, hint: hint})
}

// unknown reports an argument whose type is only known at run time where
// a date helper must know whether it is a date or a time.
func (v *dateVisitor) unknown(fn string, arg ast.Node) {
	if v.dates {
		v.fail(arg, "pass a fact, or ?? rather than a list or map, so that the type is known when the file is checked",
			fn+": cannot tell whether this is a date or a time")
	}
}

func call(fn string, args ...ast.Node) *ast.CallNode {
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn}, Arguments: args}
}

func ident(name string) ast.Node { return &ast.IdentifierNode{Value: name} }

// since rewrites days_since(x, as_of) and months_since(x, as_of) of a
// date to count from the as-of date.
func (v *dateVisitor) since(node *ast.Node, c *ast.CallNode, fn string) {
	if len(c.Arguments) != 2 {
		return
	}
	switch valKindOf(c.Arguments[0]) {
	case valDate:
		between := "days_between"
		if fn == "months_since" {
			between = "months_between"
		}
		v.patch(node, call(between, c.Arguments[0], ident(AsOfDateVar)), c.Location())
	case valUnknown:
		v.unknown(fn, c.Arguments[0])
	}
}

// between makes both arguments of days_between or months_between dates
// when one is, and reads months between two times in the zone.
func (v *dateVisitor) between(c *ast.CallNode, fn string) {
	if len(c.Arguments) != 2 {
		return
	}
	a, b := valKindOf(c.Arguments[0]), valKindOf(c.Arguments[1])
	switch {
	case a == valUnknown || b == valUnknown:
		if a == valDate || b == valDate {
			v.unknown(fn, c.Arguments[0])
		}
	case a == valDate && b == valTime:
		c.Arguments[1] = dateOf(c.Arguments[1])
		v.applied = true
	case a == valTime && b == valDate:
		c.Arguments[0] = dateOf(c.Arguments[0])
		v.applied = true
	case a == valTime && b == valTime && fn == "months_between":
		c.Callee = &ast.IdentifierNode{Value: "months_between.in"}
		c.Arguments = append(c.Arguments, ident(AsOfVar))
		v.applied = true
	}
}

// dateOf is the day of the time t in the rule set's zone: AsOfDateVar
// itself for as_of.
func dateOf(t ast.Node) ast.Node {
	var out ast.Node = call("date.in", t, ident(AsOfVar))
	if id, ok := t.(*ast.IdentifierNode); ok && id.Value == AsOfVar {
		out = ident(AsOfDateVar)
	}
	out.SetLocation(t.Location())
	return out
}

// calendar reads year(t) and month(t) of a time in the zone.
func (v *dateVisitor) calendar(node *ast.Node, c *ast.CallNode, fn string) {
	if len(c.Arguments) != 1 {
		return
	}
	switch valKindOf(c.Arguments[0]) {
	case valTime:
		v.patch(node, call(fn+".in", c.Arguments[0], ident(AsOfVar)), c.Location())
	case valUnknown:
		v.unknown(fn, c.Arguments[0])
	}
}

// date handles date("2024-06-30"), a literal checked here and made a
// constant when the program is optimized, and date(t), the day of a time
// in the zone.
func (v *dateVisitor) date(node *ast.Node, c *ast.CallNode) {
	if len(c.Arguments) != 1 {
		return
	}
	arg := c.Arguments[0]
	if s, ok := arg.(*ast.StringNode); ok {
		if _, ok := parseDateOnly(s.Value); !ok {
			v.fail(arg, `write the day as 2024-06-30`, "date: "+strconv.Quote(s.Value)+" is not a date")
		}
		return
	}
	switch valKindOf(arg) {
	case valTime:
		v.patch(node, dateOf(arg), c.Location())
	case valDate:
		v.patch(node, arg, c.Location())
	default:
		v.fail(arg, `write date("2024-06-30") for a fixed day, or date(t) for the day of a time fact or as_of`,
			"date takes a date in quotes or a time")
	}
}

// coalesce turns coalesce of dates into a ?? chain, whose type the
// checker knows.
func (v *dateVisitor) coalesce(node *ast.Node, c *ast.CallNode) {
	if len(c.Arguments) < 2 || coalesceKind(c.Arguments) != valDate {
		return
	}
	out := c.Arguments[len(c.Arguments)-1]
	for i := len(c.Arguments) - 2; i >= 0; i-- {
		out = &ast.BinaryNode{Operator: "??", Left: c.Arguments[i], Right: out}
		out.SetLocation(c.Location())
	}
	v.patch(node, out, c.Location())
}
