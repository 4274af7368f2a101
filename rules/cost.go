package rules

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// The cost model. A step is one operation of the expression VM: loading a
// value, comparing two, calling a helper, one turn of a predicate's loop;
// a step takes from 5 to 30 nanoseconds. An operation on text counts one
// more step for every so many characters it handles, by how fast Go does
// it: comparing and searching (textScan) is cheap, copying (textCopy)
// less so, changing case or parsing (textMap) more, formatting values
// with string() (textFormat) and matching a regular expression
// (textRegexp, per character of text and per textRegexpPattern of
// pattern) most. estimateCost bounds the steps one evaluation of an
// expression can take, whatever the facts, so that MaxExprSteps and
// MaxRuleSetSteps can be checked when the file loads.
//
// What a rule can iterate over is known when the file loads: facts are
// numbers, text, true/false and times, never lists, so every list comes
// from a literal, a param, a range with fixed bounds, or a builtin applied
// to one of those. The only length not known then is that of text facts
// (and segment names), which the model counts as textFactChars
// characters; any rule's cost grows at most linearly with them.
const (
	textScan          = 256
	textCopy          = 32
	textMap           = 16
	textFormat        = 8
	textRegexp        = 2
	textRegexpPattern = 32
	textFactChars     = 1000
	// scalarChars is the longest text string() makes of a number, a
	// bool, a time or null; formatSteps is what string() costs beyond
	// the text it makes.
	scalarChars = 40
	formatSteps = 8
	// costInfinity stands for "more than any limit"; sums and products
	// saturate there.
	costInfinity = int64(1) << 62
)

// shape bounds the size of the values an expression can produce.
type shape struct {
	chars int64  // most characters, when the value can be text
	items int64  // most items, when it can be a list or a map
	elem  *shape // the items' shape; nil for items that are scalars
}

// item is the shape of one item of s (a scalar for text, whose items
// are bytes).
func (s shape) item() shape {
	if s.elem == nil {
		return shape{}
	}
	return *s.elem
}

// union bounds the values of shape s or o.
func (s shape) union(o shape) shape {
	out := shape{chars: max(s.chars, o.chars), items: max(s.items, o.items)}
	switch {
	case s.elem == nil:
		out.elem = o.elem
	case o.elem == nil:
		out.elem = s.elem
	default:
		e := s.elem.union(*o.elem)
		out.elem = &e
	}
	return out
}

// stringChars bounds the length of string(v) for a value of shape s.
func stringChars(s shape) int64 {
	n := max(s.chars, scalarChars)
	if s.items > 0 {
		n = max(n, add(mul(s.items, add(stringChars(s.item()), 2)), 2))
	}
	return n
}

// textSteps is the steps an operation takes beyond its first for chars
// characters at perStep characters a step.
func textSteps(chars, perStep int64) int64 { return chars / perStep }

func add(a, b int64) int64 {
	if a >= costInfinity-b {
		return costInfinity
	}
	return a + b
}

func mul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a >= costInfinity/b {
		return costInfinity
	}
	return a * b
}

// estimate is the cost of one expression.
type estimate struct {
	steps int64
	shape shape
	// cause is the construct that costs the most steps, for messages.
	cause *costCause
}

// costCause describes an expensive construct.
type costCause struct {
	steps int64
	what  string // "count over 999 items"
	loops int    // predicates nested in it, itself included
	hint  string
	at    file.Location
}

func (c *costCause) String() string {
	if c.loops > 1 {
		return fmt.Sprintf("%s, nested %d deep", c.what, c.loops)
	}
	return c.what
}

// plus adds o's steps to e and keeps the costlier cause.
func (e *estimate) plus(o estimate) {
	e.steps = add(e.steps, o.steps)
	if o.cause != nil && (e.cause == nil || o.cause.steps > e.cause.steps) {
		e.cause = o.cause
	}
}

// own adds steps that n itself takes, beyond its children, and makes n
// the cause when they are more than the cause e has.
func (e *estimate) own(steps int64, n ast.Node, loops int, hint, format string, args ...any) {
	e.steps = add(e.steps, steps)
	if e.cause != nil && e.cause.steps >= steps {
		return
	}
	e.cause = &costCause{steps: steps, what: fmt.Sprintf(format, args...), loops: loops, hint: hint, at: n.Location()}
}

// costEstimator walks a type-checked tree.
type costEstimator struct {
	lets  []binding
	items []shape // what # stands for in the predicates around the node
	errs  []macroError
}

type binding struct {
	name  string
	shape shape
	value int64 // its value, when known
	known bool
}

// estimateCost bounds the steps one evaluation of tree can take. It fails
// when the bound cannot be known when the file loads.
func estimateCost(tree ast.Node) (estimate, *macroError) {
	c := &costEstimator{}
	e := c.node(tree)
	if len(c.errs) > 0 {
		return e, &c.errs[0]
	}
	return e, nil
}

func leaf(s shape) estimate { return estimate{steps: 1, shape: s} }

// sum is 1 step for the node itself plus its children's costs.
func (c *costEstimator) sum(nodes ...ast.Node) (estimate, []estimate) {
	e := estimate{steps: 1}
	parts := make([]estimate, len(nodes))
	for i, n := range nodes {
		if n == nil {
			continue
		}
		parts[i] = c.node(n)
		e.plus(parts[i])
	}
	return e, parts
}

func (c *costEstimator) node(n ast.Node) estimate {
	switch n := n.(type) {
	case *ast.NilNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		return leaf(shape{})
	case *ast.StringNode:
		return leaf(shape{chars: int64(len(n.Value))})
	case *ast.BytesNode:
		return leaf(shape{items: int64(len(n.Value))})
	case *ast.ConstantNode:
		return leaf(valueShape(reflect.ValueOf(n.Value)))
	case *ast.IdentifierNode:
		return c.identifier(n)
	case *ast.PointerNode:
		if n.Name == "" && len(c.items) > 0 {
			return leaf(c.items[len(c.items)-1])
		}
		return leaf(shape{})
	case *ast.UnaryNode:
		e, _ := c.sum(n.Node)
		return e
	case *ast.BinaryNode:
		return c.binary(n)
	case *ast.ChainNode:
		return c.node(n.Node)
	case *ast.MemberNode:
		e, parts := c.sum(n.Node, n.Property)
		e.shape = parts[0].shape.item()
		return e
	case *ast.SliceNode:
		e, parts := c.sum(n.Node, n.From, n.To)
		e.shape = parts[0].shape
		return e
	case *ast.CallNode:
		e, parts := c.sum(n.Arguments...)
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "coalesce" {
			for _, p := range parts {
				e.shape = e.shape.union(p.shape)
			}
		}
		return e
	case *ast.BuiltinNode:
		return c.builtin(n)
	case *ast.PredicateNode:
		return c.node(n.Node)
	case *ast.ConditionalNode:
		e, _ := c.sum(n.Cond)
		a, b := c.node(n.Exp1), c.node(n.Exp2)
		if b.steps > a.steps {
			a, b = b, a
		}
		e.plus(a)
		e.shape = a.shape.union(b.shape)
		return e
	case *ast.VariableDeclaratorNode:
		return c.let(n)
	case *ast.SequenceNode:
		e, parts := c.sum(n.Nodes...)
		if len(parts) > 0 {
			e.shape = parts[len(parts)-1].shape
		}
		return e
	case *ast.ArrayNode:
		return c.array(n)
	case *ast.MapNode:
		e, parts := c.sum(n.Pairs...)
		e.steps = add(e.steps, int64(len(n.Pairs)))
		e.shape.items = int64(len(n.Pairs))
		var elem shape
		for _, p := range parts {
			elem = elem.union(p.shape)
		}
		e.shape.elem = &elem
		return e
	case *ast.PairNode:
		e, parts := c.sum(n.Key, n.Value)
		e.shape = parts[0].shape.union(parts[1].shape)
		return e
	}
	c.fail(n, "", "internal error: cannot estimate the cost of %T", n)
	return estimate{steps: costInfinity}
}

func (c *costEstimator) fail(n ast.Node, hint, format string, args ...any) {
	c.errs = append(c.errs, macroError{loc: n.Location(), msg: fmt.Sprintf(format, args...), hint: hint})
}

func (c *costEstimator) lookup(name string) *binding {
	for i := len(c.lets) - 1; i >= 0; i-- {
		if c.lets[i].name == name {
			return &c.lets[i]
		}
	}
	return nil
}

func (c *costEstimator) identifier(n *ast.IdentifierNode) estimate {
	if b := c.lookup(n.Value); b != nil {
		return leaf(b.shape)
	}
	if n.Type().Kind() == reflect.String {
		return leaf(shape{chars: textFactChars})
	}
	return leaf(shape{})
}

func (c *costEstimator) let(n *ast.VariableDeclaratorNode) estimate {
	value := c.node(n.Value)
	b := binding{name: n.Name, shape: value.shape}
	b.value, b.known = c.constInt(n.Value)
	c.lets = append(c.lets, b)
	body := c.node(n.Expr)
	c.lets = c.lets[:len(c.lets)-1]
	e := estimate{steps: 1}
	e.plus(value)
	e.plus(body)
	e.shape = body.shape
	return e
}

// constInt returns n's value when it is an integer known when the file
// loads: a literal, a let of one, or sums and products of those.
func (c *costEstimator) constInt(n ast.Node) (int64, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return int64(n.Value), true
	case *ast.UnaryNode:
		v, ok := c.constInt(n.Node)
		switch {
		case !ok:
			return 0, false
		case n.Operator == "-":
			return -v, true
		case n.Operator == "+":
			return v, true
		}
	case *ast.IdentifierNode:
		if b := c.lookup(n.Value); b != nil {
			return b.value, b.known
		}
	case *ast.BinaryNode:
		a, okA := c.constInt(n.Left)
		b, okB := c.constInt(n.Right)
		const limit = int64(1) << 31 // keeps the arithmetic exact
		if !okA || !okB || a > limit || a < -limit || b > limit || b < -limit {
			return 0, false
		}
		switch n.Operator {
		case "+":
			return a + b, true
		case "-":
			return a - b, true
		case "*":
			return a * b, true
		}
	}
	return 0, false
}

func (c *costEstimator) array(n *ast.ArrayNode) estimate {
	e, parts := c.sum(n.Nodes...)
	var elem shape
	for _, p := range parts {
		elem = elem.union(p.shape)
	}
	e.shape = shape{items: int64(len(n.Nodes)), elem: &elem}
	if literalArray(n) {
		// A list of literals is built once, when the file loads.
		e.steps = 1
		return e
	}
	e.steps = add(e.steps, int64(len(n.Nodes)))
	return e
}

// literalArray reports whether expr's optimizer makes n a constant.
func literalArray(n *ast.ArrayNode) bool {
	for _, e := range n.Nodes {
		switch e.(type) {
		case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode, *ast.BoolNode:
		default:
			return false
		}
	}
	return true
}

// valueShape is the shape of a constant.
func valueShape(v reflect.Value) shape {
	switch v.Kind() {
	case reflect.String:
		return shape{chars: int64(v.Len())}
	case reflect.Slice, reflect.Array, reflect.Map:
		var elem shape
		if v.Kind() == reflect.Map {
			for it := v.MapRange(); it.Next(); {
				elem = elem.union(valueShape(it.Key())).union(valueShape(it.Value()))
			}
		} else {
			for i := range v.Len() {
				elem = elem.union(valueShape(v.Index(i)))
			}
		}
		return shape{items: int64(v.Len()), elem: &elem}
	case reflect.Interface, reflect.Pointer:
		if !v.IsNil() {
			return valueShape(v.Elem())
		}
	}
	return shape{}
}
