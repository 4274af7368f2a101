package rules

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
)

const (
	loopHint  = "iterate over fewer items, or nest fewer predicates"
	rangeHint = "use a smaller range"
	textHint  = "build shorter text"
)

func (c *costEstimator) binary(n *ast.BinaryNode) estimate {
	switch n.Operator {
	case "..":
		return c.rangeOf(n)
	case "in":
		if e, ok := c.fastIn(n); ok {
			return e
		}
	}
	e, parts := c.sum(n.Left, n.Right)
	l, r := parts[0].shape, parts[1].shape
	switch n.Operator {
	case "+":
		// Numbers, text or lists: a sum of text or of lists copies both.
		e.shape = shape{chars: add(l.chars, r.chars), items: add(l.items, r.items)}
		if l.elem != nil || r.elem != nil {
			elem := l.item().union(r.item())
			e.shape.elem = &elem
		}
		steps := add(textSteps(e.shape.chars, textCopy), e.shape.items)
		if e.shape.chars > 0 {
			e.own(steps, n, 0, textHint, "text of up to %s characters", grouped(e.shape.chars))
		} else {
			e.own(steps, n, 1, loopHint, "a list of up to %s items", grouped(e.shape.items))
		}
	case "in":
		if n.Right.Type().Kind() != reflect.Map {
			e.steps = add(e.steps, mul(r.items, 1+textSteps(max(l.chars, r.item().chars), textScan)))
		}
	case "??":
		e.shape = l.union(r)
	case "matches":
		e.steps = add(e.steps, mul(1+textSteps(l.chars, textRegexp), 1+textSteps(r.chars, textRegexpPattern)))
	case "contains", "startsWith", "endsWith":
		e.steps = add(e.steps, textSteps(l.chars, textScan))
	case "==", "!=":
		items := max(l.items, r.items)
		e.steps = add(e.steps, add(textSteps(max(l.chars, r.chars), textScan), mul(items, 1+textSteps(max(l.item().chars, r.item().chars), textScan))))
	default:
		e.steps = add(e.steps, textSteps(max(l.chars, r.chars), textScan))
	}
	return e
}

// rangeOf is a..b, which makes a list of b-a+1 integers.
func (c *costEstimator) rangeOf(n *ast.BinaryNode) estimate {
	e, _ := c.sum(n.Left, n.Right)
	from, okFrom := c.constInt(n.Left)
	to, okTo := c.constInt(n.Right)
	if !okFrom || !okTo {
		c.fail(n, "write fixed numbers, such as 1..12, or names given them with let", "a range needs fixed bounds, so that its cost is known when the file loads")
		return e
	}
	size := max(to-from+1, 0)
	e.shape = shape{items: size}
	e.own(size, n, 0, rangeHint, "a range of %s numbers", grouped(size))
	return e
}

// fastIn is the cost of the forms of `in` that expr's optimizer turns
// into constant-time checks (optimizer/in_range.go, in_array.go): an
// integer in a range with literal bounds becomes two comparisons, and a
// value in a list of literal strings, or an integer in a list of literal
// integers, a map lookup.
func (c *costEstimator) fastIn(n *ast.BinaryNode) (estimate, bool) {
	leftInt := n.Left.Type().Kind() == reflect.Int
	fast := false
	switch r := n.Right.(type) {
	case *ast.BinaryNode:
		fast = leftInt && r.Operator == ".." && intLiteral(r.Left) && intLiteral(r.Right)
	case *ast.ArrayNode:
		fast = len(r.Nodes) > 0 && (allNodes[*ast.StringNode](r.Nodes) || leftInt && allNodes[*ast.IntegerNode](r.Nodes))
	}
	if !fast {
		return estimate{}, false
	}
	left := c.node(n.Left)
	e := estimate{steps: 3}
	e.plus(left)
	e.plus(left) // a range check reads the value twice
	return e, true
}

func intLiteral(n ast.Node) bool {
	if u, ok := n.(*ast.UnaryNode); ok && u.Operator == "-" {
		n = u.Node
	}
	_, ok := n.(*ast.IntegerNode)
	return ok
}

func allNodes[T ast.Node](nodes []ast.Node) bool {
	for _, n := range nodes {
		if _, ok := n.(T); !ok {
			return false
		}
	}
	return true
}

func (c *costEstimator) builtin(n *ast.BuiltinNode) estimate {
	if len(n.Arguments) >= 2 {
		if p, ok := n.Arguments[1].(*ast.PredicateNode); ok {
			return c.loop(n, p)
		}
	}
	e, parts := c.sum(n.Arguments...)
	var first shape
	if len(parts) > 0 {
		first = parts[0].shape
	}
	switch n.Name {
	case "len", "abs", "ceil", "floor", "round":
	case "string":
		chars := stringChars(first)
		e.shape = shape{chars: chars}
		e.own(add(formatSteps+textSteps(chars, textFormat), first.items), n, 0, textHint, "text of up to %s characters", grouped(chars))
	case "lower", "upper", "trim":
		e.steps = add(e.steps, textSteps(first.chars, textMap))
		e.shape = shape{chars: first.chars}
	case "hasPrefix", "hasSuffix":
		if len(parts) > 1 {
			e.steps = add(e.steps, textSteps(parts[1].shape.chars, textScan))
		}
	case "max", "min":
		for _, p := range parts {
			e.steps = add(e.steps, p.shape.items)
		}
	default:
		// int and float parse text; count, sum and mean without a
		// predicate read every item.
		e.own(add(first.items, textSteps(first.chars, textMap)), n, 1, loopHint, "%s over %s items", n.Name, grouped(first.items))
	}
	return e
}

// loop is a builtin that evaluates predicate p once per item of its
// first argument: all, any, none, one, filter, map, count, sum, mean.
func (c *costEstimator) loop(n *ast.BuiltinNode, p *ast.PredicateNode) estimate {
	coll := c.node(n.Arguments[0])
	c.items = append(c.items, coll.shape.item())
	body := c.node(p.Node)
	c.items = c.items[:len(c.items)-1]
	e := estimate{steps: 1}
	e.plus(coll)
	for _, arg := range n.Arguments[2:] {
		e.plus(c.node(arg))
	}
	count := coll.shape.items
	loops := 1
	if body.cause != nil && body.cause.loops > 0 {
		loops = body.cause.loops + 1
	}
	e.own(mul(count, add(body.steps, 2)), n, loops, loopHint, "%s over %s items", n.Name, grouped(count))
	switch n.Name {
	case "filter":
		e.shape = coll.shape
	case "map":
		e.shape = shape{items: count, elem: &body.shape}
	}
	return e
}

// grouped writes n with thousands separators: 1,000,000.
func grouped(n int64) string {
	if n < 0 {
		return "-" + grouped(-n)
	}
	s := strconv.FormatInt(n, 10)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// stepCount says how many steps n counts: "up to 1,234 steps".
func stepCount(n int64) string {
	if n >= costInfinity {
		return "more than " + grouped(costInfinity) + " steps"
	}
	return "up to " + grouped(n) + " steps"
}

// costError is the error for an expression that could take more than
// MaxExprSteps steps.
func costError(e estimate, kind exprKind) macroError {
	what := "condition"
	if kind == kindValue {
		what = "value"
	}
	why := ""
	out := macroError{hint: "see the limits in docs/rules.md"}
	if e.cause != nil {
		why = " (" + e.cause.String() + ")"
		out.hint = e.cause.hint
		out.loc = e.cause.at
	}
	out.msg = fmt.Sprintf("this %s could take %s per customer%s; the limit is %s", what, stepCount(e.steps), why, grouped(MaxExprSteps))
	return out
}

// exprCost is the cost of one compiled expression of a rule set.
type exprCost struct {
	field string
	pos   Pos
	steps int64
}

// checkTotalCost reports a rule set whose expressions, evaluated once
// each for one customer, could take more than MaxRuleSetSteps steps. The
// error is at the costliest expression and names the three costliest.
func (c *exprCompiler) checkTotalCost() {
	var total int64
	for _, x := range c.costs {
		total = add(total, x.steps)
	}
	if total <= MaxRuleSetSteps {
		return
	}
	costly := slices.Clone(c.costs)
	slices.SortStableFunc(costly, func(a, b exprCost) int { return cmp.Compare(b.steps, a.steps) })
	var names []string
	for _, x := range costly[:min(3, len(costly))] {
		names = append(names, fmt.Sprintf("%s (%s steps)", x.field, grouped(x.steps)))
	}
	hint := "the costliest are " + strings.Join(names, ", ") + "; make them cheaper or split the rule set into several files"
	c.l.report(SeverityError, costly[0].pos, costly[0].field, hint,
		"the rule set could take %s per customer, adding up all its expressions; the limit is %s", stepCount(total), grouped(MaxRuleSetSteps))
}
