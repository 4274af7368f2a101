package rules

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// macroNames are the helpers rewritten at compile time into reads of the
// segmentation state variables (see Vars).
var macroNames = []string{
	"entered", "left", "changed", "upgraded", "downgraded",
	"days_in", "days_in_previous", "rank", "previous_rank",
	"days_since", "months_since",
	"overdue", "days_since_covered",
}

type macroError struct {
	loc  file.Location
	msg  string
	hint string
}

// macroVisitor rewrites one expression's tree before type checking:
//   - params.NAME becomes the parameter's constant value;
//   - segment.X and previous.X become state variables;
//   - entered, left, changed, upgraded, downgraded, days_in, rank ... become
//     comparisons of state variables;
//   - days_since(t) and months_since(t) are measured against as_of;
//   - overdue and days_since_covered become coverage state variables.
//
// It also records which facts the expression reads and rejects what rules
// may not do: method calls as written (x.f()) and $env. Methods reached any
// other way are rejected once the tree is typed (see safetyCheck).
type macroVisitor struct {
	c          *exprCompiler
	src        string
	errs       []macroError
	reads      []string
	newRefs    []string
	transition bool
	// leftCalls holds where the expression calls left("SEGMENTATION").
	leftCalls []file.Location
	// coverageCalls holds the calls of overdue and days_since_covered,
	// which the caller rejects in a segment's condition.
	coverageCalls []coverageLoc
}

// coverageLoc is a coverageCall at a location in the expression.
type coverageLoc struct {
	coverageCall
	loc file.Location
}

func (v *macroVisitor) fail(n ast.Node, hint, format string, args ...any) {
	v.errs = append(v.errs, macroError{loc: n.Location(), msg: fmt.Sprintf(format, args...), hint: hint})
}

func (v *macroVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			v.fail(n, "name the fact directly", "$env is not available in rules")
			return
		}
		if v.c.schema != nil {
			if _, _, ok := v.c.schema.Lookup(n.Value); ok {
				v.read(n.Value)
			}
		}
	case *ast.MemberNode:
		v.member(node, n)
	case *ast.BinaryNode:
		switch n.Operator {
		case "==", "!=", "in":
			v.checkSegmentLiterals(n)
		}
	case *ast.CallNode:
		if _, ok := n.Callee.(*ast.MemberNode); ok {
			v.fail(n, methodHint, "methods of values cannot be called in rules")
			return
		}
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && contains(macroNames, id.Value) {
			v.macro(node, id.Value, n)
		}
		// is_null(x) is x == nil without the cost of a function call.
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "is_null" && len(n.Arguments) == 1 {
			out := &ast.BinaryNode{Operator: "==", Left: n.Arguments[0], Right: &ast.NilNode{}}
			ast.Patch(node, out)
			out.Right.SetLocation(n.Location())
		}
	}
}

// read records a value the expression reads, for explanations.
func (v *macroVisitor) read(name string) {
	if !contains(v.reads, name) {
		v.reads = append(v.reads, name)
	}
}

func (v *macroVisitor) member(node *ast.Node, n *ast.MemberNode) {
	id, ok := n.Node.(*ast.IdentifierNode)
	if !ok {
		return
	}
	prop, ok := n.Property.(*ast.StringNode)
	if !ok {
		if id.Value == "params" || id.Value == "segment" || id.Value == "previous" {
			v.fail(n, "write "+id.Value+".NAME with a fixed name", "%s must be followed by a name", id.Value)
		}
		return
	}
	switch id.Value {
	case "params":
		p, ok := v.c.params[prop.Value]
		if !ok {
			v.fail(n, v.hint(prop.Value, v.paramNames(), "declare it under params:"), "unknown parameter %q", prop.Value)
			return
		}
		v.c.usedParams[p.Name] = true
		ast.Patch(node, constNode(p.Value))
	case "segment":
		if s := v.segmentation(n, prop.Value); s != nil {
			v.newRef(s.Name)
			v.read(VarsFor(s.Name).Segment)
			ast.Patch(node, &ast.IdentifierNode{Value: VarsFor(s.Name).Segment})
		}
	case "previous":
		if s := v.segmentation(n, prop.Value); s != nil {
			v.read(VarsFor(s.Name).Previous)
			ast.Patch(node, &ast.IdentifierNode{Value: VarsFor(s.Name).Previous})
		}
	}
}

func (v *macroVisitor) paramNames() []string {
	names := make([]string, 0, len(v.c.params))
	for name := range v.c.params {
		names = append(names, name)
	}
	return names
}

func (v *macroVisitor) segmentationNames() []string {
	names := make([]string, 0, len(v.c.segs))
	for name := range v.c.segs {
		names = append(names, name)
	}
	return names
}

func (v *macroVisitor) hint(name string, candidates []string, fallback string) string {
	if h := suggest(name, candidates); h != "" {
		return h
	}
	if len(candidates) > 0 {
		return oneOf(candidates)
	}
	return fallback
}

func (v *macroVisitor) segmentation(n ast.Node, name string) *Segmentation {
	s, ok := v.c.segs[name]
	if !ok {
		v.fail(n, v.hint(name, v.segmentationNames(), "declare it under segmentations:"), "unknown segmentation %q", name)
		return nil
	}
	return s
}

func (v *macroVisitor) newRef(name string) {
	if !contains(v.newRefs, name) {
		v.newRefs = append(v.newRefs, name)
	}
}

// stringArg returns argument i of a helper call, which must be a literal
// string.
func (v *macroVisitor) stringArg(call *ast.CallNode, fn string, i int) (string, bool) {
	s, ok := call.Arguments[i].(*ast.StringNode)
	if !ok {
		v.fail(call.Arguments[i], fmt.Sprintf("write it in quotes, e.g. %s(\"value_tier\")", fn), "%s: argument %d must be a name in quotes", fn, i+1)
		return "", false
	}
	return s.Value, true
}

func (v *macroVisitor) macro(node *ast.Node, fn string, call *ast.CallNode) {
	arity := map[string]int{"entered": 2, "left": 2, "days_since": 1, "months_since": 1}[fn]
	if arity == 0 {
		arity = 1
	}
	if fn == "left" && len(call.Arguments) == 1 {
		v.leftSource(node, call)
		return
	}
	if len(call.Arguments) != arity {
		args := "\"SEGMENTATION\""
		switch {
		case fn == "left":
			v.fail(call, `write left("SEGMENTATION", "SEGMENT") for a move out of a segment, or left("SEGMENTATION") for a customer who left the facts source`, "left takes 1 or 2 arguments, not %d", len(call.Arguments))
			return
		case arity == 2:
			args = "\"SEGMENTATION\", \"SEGMENT\""
		case fn == "days_since" || fn == "months_since":
			args = "TIME_FACT"
		}
		v.fail(call, fmt.Sprintf("write %s(%s)", fn, args), "%s takes %d argument(s), not %d", fn, arity, len(call.Arguments))
		return
	}
	switch fn {
	case "days_since", "months_since":
		ast.Patch(node, &ast.CallNode{
			Callee:    &ast.IdentifierNode{Value: fn},
			Arguments: []ast.Node{call.Arguments[0], &ast.IdentifierNode{Value: AsOfVar}},
		})
		return
	}
	name, ok := v.stringArg(call, fn, 0)
	if !ok {
		return
	}
	s := v.segmentation(call.Arguments[0], name)
	if s == nil {
		return
	}
	vars := VarsFor(s.Name)
	id := func(name string) ast.Node { return &ast.IdentifierNode{Value: name} }
	var out ast.Node
	switch fn {
	case "entered", "left":
		seg, ok := v.stringArg(call, fn, 1)
		if !ok {
			return
		}
		if s.SegmentIndex(seg) < 0 {
			v.fail(call.Arguments[1], v.hint(seg, segmentNames(s), ""), "segmentation %q has no segment %q", s.Name, seg)
			return
		}
		in, out2 := vars.Segment, vars.Previous
		if fn == "left" {
			in, out2 = vars.Previous, vars.Segment
		}
		out = and(eq(id(in), str(seg)), ne(id(out2), str(seg)))
		v.transition = true
		v.newRef(s.Name)
	case "changed":
		out = ne(id(vars.Segment), id(vars.Previous))
		v.transition = true
		v.newRef(s.Name)
	case "upgraded", "downgraded":
		cmp := "<"
		if fn == "downgraded" {
			cmp = ">"
		}
		out = and(
			and(gt(id(vars.PreviousRank), num(0)), gt(id(vars.Rank), num(0))),
			&ast.BinaryNode{Operator: cmp, Left: id(vars.Rank), Right: id(vars.PreviousRank)},
		)
		v.transition = true
		v.newRef(s.Name)
	case "days_in":
		out = id(vars.DaysIn)
		v.newRef(s.Name)
	case "days_in_previous":
		out = id(vars.DaysInPrevious)
	case "rank":
		out = id(vars.Rank)
		v.newRef(s.Name)
	case "previous_rank":
		out = id(vars.PreviousRank)
	case "overdue", "days_since_covered":
		if !hasCoverage(s) {
			v.fail(call.Arguments[0], "add coverage: {every: 28d, by: [ACTION], counts: [OUTCOME]} to one of its segments", "no segment of %q declares coverage", s.Name)
			return
		}
		name := vars.Overdue
		if fn == "days_since_covered" {
			name = vars.DaysSinceCovered
		}
		out = id(name)
		v.read(name)
		v.coverageCalls = append(v.coverageCalls, coverageLoc{coverageCall{fn: fn, segmentation: s.Name}, call.Location()})
	}
	ast.Patch(node, out)
	setLocation(out, call.Location())
}

// leftSource rewrites left("SEGMENTATION"), true when the customer left
// the facts source and had a segment in the segmentation, into a read of
// AbsentVar and the previous segment. Where it may be used (actions of a
// rule set with on_missing: exit) is checked by the caller, from
// leftCalls.
func (v *macroVisitor) leftSource(node *ast.Node, call *ast.CallNode) {
	name, ok := v.stringArg(call, "left", 0)
	if !ok {
		return
	}
	s := v.segmentation(call.Arguments[0], name)
	if s == nil {
		return
	}
	vars := VarsFor(s.Name)
	v.read(vars.Previous)
	v.transition = true
	v.leftCalls = append(v.leftCalls, call.Location())
	out := and(&ast.IdentifierNode{Value: AbsentVar}, ne(&ast.IdentifierNode{Value: vars.Previous}, str("")))
	ast.Patch(node, out)
	setLocation(out, call.Location())
}

// setLocation gives synthesized nodes the location of the call they
// replace, so runtime errors point at the helper.
func setLocation(n ast.Node, loc file.Location) {
	n.SetLocation(loc)
	if b, ok := n.(*ast.BinaryNode); ok {
		setLocation(b.Left, loc)
		setLocation(b.Right, loc)
	}
}

func segmentNames(s *Segmentation) []string {
	names := make([]string, len(s.Segments))
	for i, seg := range s.Segments {
		names[i] = seg.Name
	}
	return names
}

func and(a, b ast.Node) ast.Node { return &ast.BinaryNode{Operator: "&&", Left: a, Right: b} }
func eq(a, b ast.Node) ast.Node  { return &ast.BinaryNode{Operator: "==", Left: a, Right: b} }
func ne(a, b ast.Node) ast.Node  { return &ast.BinaryNode{Operator: "!=", Left: a, Right: b} }
func gt(a, b ast.Node) ast.Node  { return &ast.BinaryNode{Operator: ">", Left: a, Right: b} }
func str(s string) ast.Node      { return &ast.StringNode{Value: s} }
func num(i int) ast.Node         { return &ast.IntegerNode{Value: i} }

// constNode turns a parameter value into a literal node.
func constNode(v any) ast.Node {
	switch x := v.(type) {
	case int:
		return &ast.IntegerNode{Value: x}
	case float64:
		return &ast.FloatNode{Value: x}
	case string:
		return &ast.StringNode{Value: x}
	case bool:
		return &ast.BoolNode{Value: x}
	case []any:
		nodes := make([]ast.Node, len(x))
		for i, e := range x {
			nodes[i] = constNode(e)
		}
		return &ast.ArrayNode{Nodes: nodes}
	}
	return &ast.NilNode{}
}

// checkSegmentLiterals reports comparisons of a segment variable with a
// string that names no segment, such as segment.value_tier == "vipp".
func (v *macroVisitor) checkSegmentLiterals(n *ast.BinaryNode) {
	var variable string
	var other ast.Node
	if id, ok := n.Left.(*ast.IdentifierNode); ok {
		variable, other = id.Value, n.Right
	} else if id, ok := n.Right.(*ast.IdentifierNode); ok {
		variable, other = id.Value, n.Left
	}
	name, found := strings.CutPrefix(variable, "segment.")
	if !found {
		name, found = strings.CutPrefix(variable, "previous.")
	}
	if !found {
		return
	}
	s := v.c.segs[name]
	if s == nil {
		return
	}
	var lits []*ast.StringNode
	switch o := other.(type) {
	case *ast.StringNode:
		lits = append(lits, o)
	case *ast.ArrayNode:
		for _, e := range o.Nodes {
			if sn, ok := e.(*ast.StringNode); ok {
				lits = append(lits, sn)
			}
		}
	}
	for _, lit := range lits {
		if lit.Value != "" && s.SegmentIndex(lit.Value) < 0 {
			v.fail(lit, v.hint(lit.Value, segmentNames(s), ""), "segmentation %q has no segment %q", s.Name, lit.Value)
		}
	}
}
