package sqlexpr

import (
	"reflect"
	"strings"

	"github.com/expr-lang/expr/ast"
)

func (t *translator) unary(n *ast.UnaryNode) (val, error) {
	x, err := t.node(n.Node)
	if err != nil {
		return val{}, err
	}
	switch n.Operator {
	case "!", "not":
		if x.k != Bool {
			break
		}
		return val{v: "NOT (" + x.v + ")", e: strict("", x), i: x.i, k: Bool}, nil
	case "-":
		switch x.k {
		case Int:
			return val{v: wrap("-(" + x.v + ")::numeric"), e: strict("", x), i: x.i, k: Int}, nil
		case Float:
			return val{v: "-(" + x.v + ")", e: strict("", x), i: x.i, k: Float}, nil
		}
	case "+":
		if x.k == Int || x.k == Float {
			return val{v: x.v, e: strict("", x), i: x.i, k: x.k}, nil
		}
	}
	return val{}, unsupported(n, "the operator %s on %s has no SQL translation", n.Operator, x.k)
}

// wrap is the numeric expression n wrapped to a signed 64-bit integer as
// Go's integer arithmetic wraps: never out of bigint's range, so the
// cast never fails.
func wrap(n string) string {
	return "((((" + n + ") + 9223372036854775808) % 18446744073709551616 + 18446744073709551616) % 18446744073709551616 - 9223372036854775808)::bigint"
}

// asFloat is x's value as float8: an integer converted as Go converts
// it, to the nearest float64.
func asFloat(x val) string {
	if x.k == Int {
		return "(" + x.v + ")::float8"
	}
	return "(" + x.v + ")"
}

// Magnitudes within which a float8 product or quotient of two finite
// numbers can neither overflow nor underflow, so that PostgreSQL computes
// what Go does; and the magnitude under which a sum cannot overflow.
const (
	tiny    = "1e-150"
	huge    = "1e150"
	hugeSum = "1e300"
)

// safeFactors is the condition that a product of a and b is a finite
// float8 that PostgreSQL computes without refusing it.
func safeFactors(a, b string) string {
	return "(" + a + ") = 0 OR (" + b + ") = 0 OR (abs(" + a + ") BETWEEN " + tiny + " AND " + huge + " AND abs(" + b + ") BETWEEN " + tiny + " AND " + huge + ")"
}

// safeQuotient is the condition that a / b is such a float8 (b not 0).
func safeQuotient(a, b string) string {
	return "(" + b + ") <> 0 AND ((" + a + ") = 0 OR (abs(" + a + ") BETWEEN " + tiny + " AND " + huge + " AND abs(" + b + ") BETWEEN " + tiny + " AND " + huge + "))"
}

func safeSum(a, b string) string {
	return "abs(" + a + ") < " + hugeSum + " AND abs(" + b + ") < " + hugeSum
}

func numeric(k Kind) bool { return k == Int || k == Float }

func (t *translator) binary(n *ast.BinaryNode) (val, error) {
	switch n.Operator {
	case "&&", "and", "||", "or":
		return t.logical(n)
	case "in":
		return t.in(n)
	case "==", "!=":
		if x, ok := nilComparison(n); ok {
			return t.isNull(x, n.Operator == "!=")
		}
	}
	l, r, err := t.pair(n.Left, n.Right)
	if err != nil {
		return val{}, err
	}
	switch n.Operator {
	case "==", "!=", "<", "<=", ">", ">=":
		return compare(n, l, r)
	case "+", "-", "*", "/", "%":
		if l.k == String && r.k == String && n.Operator == "+" {
			return val{v: "(" + l.v + ") || (" + r.v + ")", e: strict("", l, r), i: inexactOf("", l, r), k: String}, nil
		}
		if numeric(l.k) && numeric(r.k) {
			return arith(n, l, r)
		}
	case "contains":
		if l.k == String && r.k == String {
			return val{v: "strpos(" + l.v + ", " + r.v + ") > 0", e: strict("", l, r), i: inexactOf("", l, r), k: Bool}, nil
		}
	case "startsWith":
		if l.k == String && r.k == String {
			return val{v: "starts_with(" + l.v + ", " + r.v + ")", e: strict("", l, r), i: inexactOf("", l, r), k: Bool}, nil
		}
	case "endsWith":
		if l.k == String && r.k == String {
			return val{v: endsWith(l.v, r.v), e: strict("", l, r), i: inexactOf("", l, r), k: Bool}, nil
		}
	case "matches":
		return val{}, unsupported(n, "regular expressions differ between Go (RE2) and PostgreSQL")
	case "**", "^":
		return val{}, unsupported(n, "** differs in the last bit between Go's math.Pow and PostgreSQL's power()")
	case "??":
		return val{}, unsupported(n, "?? has no SQL translation; use coalesce()")
	}
	return val{}, unsupported(n, "the operator %s on %s and %s has no SQL translation", n.Operator, l.k, r.k)
}

// endsWith is the condition that s ends with suffix: on valid UTF-8 (all
// PostgreSQL's text holds), the last characters equal the suffix exactly
// when the last bytes do.
func endsWith(s, suffix string) string {
	return "right(" + s + ", char_length(" + suffix + ")) = (" + suffix + ")"
}

func compare(n *ast.BinaryNode, l, r val) (val, error) {
	op := n.Operator
	if op == "==" {
		op = "="
	} else if op == "!=" {
		op = "<>"
	}
	if cmp, ok := spanCompared(n, l, r, op); ok {
		return val{v: cmp, e: strict("", l, r), i: inexactOf("", l, r), k: Bool}, nil
	}
	var cmp string
	switch {
	case l.k == Int && r.k == Int, l.k == Float && r.k == Float, l.k == Time && r.k == Time:
		cmp = "(" + l.v + ") " + op + " (" + r.v + ")"
	case numeric(l.k) && numeric(r.k):
		// Go compares an int with a float64 as float64(int).
		cmp = asFloat(l) + " " + op + " " + asFloat(r)
	case l.k == String && r.k == String:
		// Go compares strings byte by byte, as the "C" collation does.
		if op == "=" || op == "<>" {
			cmp = "(" + l.v + ") " + op + " (" + r.v + ")"
		} else {
			cmp = "(" + l.v + ") COLLATE \"C\" " + op + " (" + r.v + ") COLLATE \"C\""
		}
	case l.k == Bool && r.k == Bool && (op == "=" || op == "<>"):
		cmp = "(" + l.v + ") " + op + " (" + r.v + ")"
	default:
		return val{}, unsupported(n, "%s %s %s has no SQL translation", l.k, n.Operator, r.k)
	}
	if (op == "=" || op == "<>") && !strictEquality(n) && (l.null || r.null) {
		// expr compares other values than two ints or two strings with
		// its Equal, for which a null equals a null and nothing else.
		eq := strings.Replace(cmp, " <> ", " = ", 1)
		v := "CASE WHEN (" + l.v + ") IS NULL OR (" + r.v + ") IS NULL THEN (" + l.v + ") IS NULL AND (" + r.v + ") IS NULL ELSE " + eq + " END"
		if op == "<>" {
			v = "NOT (" + v + ")"
		}
		return val{v: v, e: or(l.e, r.e), i: inexactOf("", l, r), k: Bool}, nil
	}
	return val{v: cmp, e: strict("", l, r), i: inexactOf("", l, r), k: Bool}, nil
}

// nilComparison returns the side of n (x == nil, nil != x) that is not
// nil, if one side is.
func nilComparison(n *ast.BinaryNode) (ast.Node, bool) {
	switch {
	case isNil(n.Right):
		return n.Left, true
	case isNil(n.Left):
		return n.Right, true
	}
	return nil, false
}

func isNil(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.NilNode:
		return true
	case *ast.ConstantNode:
		return n.Value == nil
	}
	return false
}

// isNull is x == nil (is_null(x)), or x != nil with not set: never an
// error of its own.
func (t *translator) isNull(n ast.Node, not bool) (val, error) {
	x, err := t.node(n)
	if err != nil {
		return val{}, err
	}
	v := "(" + x.v + ") IS NULL"
	if not {
		v = "(" + x.v + ") IS NOT NULL"
	}
	return val{v: v, e: x.e, i: x.i, k: Bool}, nil
}

// spanCompared is the comparison of a day count with an integer
// constant, either way round, as a comparison of the count's times
// (daysCompared); ok is false for any other comparison.
func spanCompared(n *ast.BinaryNode, l, r val, op string) (string, bool) {
	flip := map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<="}
	if c, ok := intConstant(n.Right); ok && l.span != nil {
		return daysCompared(l.span[0], l.span[1], op, c)
	}
	if c, ok := intConstant(n.Left); ok && r.span != nil && flip[op] != "" {
		return daysCompared(r.span[0], r.span[1], flip[op], c)
	}
	return "", false
}

func intConstant(n ast.Node) (int, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return n.Value, true
	case *ast.ConstantNode:
		i, ok := n.Value.(int)
		return i, ok
	}
	return 0, false
}

// strictEquality reports whether expr compiles n (== or !=) to its
// comparison of two ints or of two strings, which fails on a null, as
// the compiler does: both sides of that static type, of no package.
func strictEquality(n *ast.BinaryNode) bool {
	lt, rt := n.Left.Type(), n.Right.Type()
	if lt == nil || rt == nil || lt.Kind() != rt.Kind() || lt.PkgPath() != "" || rt.PkgPath() != "" {
		return false
	}
	return lt.Kind() == reflect.Int || lt.Kind() == reflect.String
}

func arith(n *ast.BinaryNode, l, r val) (val, error) {
	e, i := strict("", l, r), inexactOf("", l, r)
	if l.k == Int && r.k == Int {
		a, b := "("+l.v+")::numeric", "("+r.v+")"
		switch n.Operator {
		case "+", "-", "*":
			return val{v: wrap(a + " " + n.Operator + " " + b), e: e, i: i, k: Int}, nil
		case "%":
			// Go panics on a zero divisor, which the engine reports; the
			// sign follows the dividend in both.
			return val{v: "(" + l.v + ") % NULLIF(" + r.v + ", 0)", e: strict("("+r.v+") = 0", l, r), i: i, k: Int}, nil
		case "/":
			// expr divides integers as float64: x / 0 is ±Inf or NaN,
			// which only the engine computes.
			return val{v: asFloat(l) + " / NULLIF(" + asFloat(r) + ", 0)", e: e, i: inexactOf("("+r.v+") = 0", l, r), k: Float}, nil
		}
	}
	a, b := asFloat(l), asFloat(r)
	switch n.Operator {
	case "+", "-":
		return val{v: a + " " + n.Operator + " " + b, e: e, i: inexactOf("NOT ("+safeSum(a, b)+")", l, r), k: Float}, nil
	case "*":
		return val{v: a + " * " + b, e: e, i: inexactOf("NOT ("+safeFactors(a, b)+")", l, r), k: Float}, nil
	case "/":
		return val{v: a + " / NULLIF(" + b + ", 0)", e: e, i: inexactOf("NOT ("+safeQuotient(a, b)+")", l, r), k: Float}, nil
	}
	return val{}, unsupported(n, "%% on a number has no SQL translation")
}

// logical translates && and ||, which evaluate the right side only when
// the left does not decide: a && b is a ? b : false, a || b is
// a ? true : b. A null a fails; a null b is the result, as in expr,
// where what reads it decides (a condition takes it for false).
func (t *translator) logical(n *ast.BinaryNode) (val, error) {
	l, r, err := t.pair(n.Left, n.Right)
	if err != nil {
		return val{}, err
	}
	if l.k != Bool || r.k != Bool {
		return val{}, unsupported(n, "%s on %s and %s has no SQL translation", n.Operator, l.k, r.k)
	}
	if n.Operator == "&&" || n.Operator == "and" {
		return choose(l, r, boolLit(false)), nil
	}
	return choose(l, boolLit(true), r), nil
}

func (t *translator) conditional(n *ast.ConditionalNode) (val, error) {
	c, err := t.node(n.Cond)
	if err != nil {
		return val{}, err
	}
	a, b, err := t.pair(n.Exp1, n.Exp2)
	if err != nil {
		return val{}, err
	}
	if c.k != Bool || a.k != b.k {
		return val{}, unsupported(n, "a conditional of %s and %s has no SQL translation", a.k, b.k)
	}
	return choose(c, a, b), nil
}

func (t *translator) pair(x, y ast.Node) (val, val, error) {
	a, err := t.node(x)
	if err != nil {
		return val{}, val{}, err
	}
	b, err := t.node(y)
	return a, b, err
}

// choose is c ? a : b, of which only the side c picks is evaluated, so
// only its errors and inexact rows count; a null c is a rule error.
func choose(c, a, b val) val {
	ce := strict("", c)
	v := "CASE WHEN " + c.v + " THEN " + a.v + " ELSE " + b.v + " END"
	var e, i string
	if ce != "" || a.e != "" || b.e != "" {
		e = "CASE WHEN " + orFalse(ce) + " THEN TRUE WHEN " + c.v + " THEN " + orFalse(a.e) + " ELSE " + orFalse(b.e) + " END"
	}
	if c.i != "" || a.i != "" || b.i != "" {
		i = "CASE WHEN " + orFalse(c.i) + " THEN TRUE WHEN " + orFalse(ce) + " THEN FALSE WHEN " + c.v + " THEN " + orFalse(a.i) + " ELSE " + orFalse(b.i) + " END"
	}
	return val{v: v, e: e, i: i, k: a.k, null: a.null || b.null}
}

// in translates x in [constants]; a null x is in no list.
func (t *translator) in(n *ast.BinaryNode) (val, error) {
	x, err := t.node(n.Left)
	if err != nil {
		return val{}, err
	}
	var items []string
	nullIn := "FALSE" // what a null is in
	switch list := n.Right.(type) {
	case *ast.ConstantNode:
		var zeroIn bool
		items, zeroIn, err = constantItems(n, list.Value, x.k)
		if zeroIn {
			nullIn = "TRUE"
		}
	case *ast.ArrayNode:
		for _, el := range list.Nodes {
			v, err := t.node(el)
			if err != nil {
				return val{}, err
			}
			if v.k != x.k || v.e != "" || v.i != "" || v.null {
				return val{}, unsupported(el, "in lists an item of another type than %s", x.k)
			}
			items = append(items, v.v)
		}
	default:
		return val{}, unsupported(n.Right, "in takes a list of constants in SQL")
	}
	if err != nil {
		return val{}, err
	}
	if len(items) == 0 {
		return val{v: "FALSE", e: x.e, i: x.i, k: Bool}, nil
	}
	return val{v: "COALESCE((" + x.v + ") IN (" + strings.Join(items, ", ") + "), " + nullIn + ")", e: x.e, i: x.i, k: Bool}, nil
}

// constantItems are the SQL literals of the optimizer's folded list c
// (a set of the items, keyed by value), and whether a null is in it:
// expr looks a nil up in such a set as the zero value of its key type,
// so a null string is in a list with "", a null integer in one with 0.
func constantItems(n ast.Node, c any, k Kind) (items []string, zeroIn bool, err error) {
	rv := reflect.ValueOf(c)
	var keys []reflect.Value
	switch rv.Kind() {
	case reflect.Map:
		keys = rv.MapKeys()
		if kt := rv.Type().Key(); kt.Kind() != reflect.Interface {
			zeroIn = rv.MapIndex(reflect.Zero(kt)).IsValid()
		}
	case reflect.Slice, reflect.Array:
		for i := range rv.Len() {
			keys = append(keys, rv.Index(i))
		}
	default:
		return nil, false, unsupported(n, "in takes a list of constants in SQL")
	}
	items = make([]string, 0, len(keys))
	for _, key := range keys {
		for key.Kind() == reflect.Interface {
			key = key.Elem()
		}
		switch {
		case k == String && key.Kind() == reflect.String:
			items = append(items, quote(key.String()))
		case k == Int && key.Kind() == reflect.Int:
			items = append(items, intLit(int(key.Int())).v)
		default:
			return nil, false, unsupported(n, "in lists a %s item for a %s value", key.Kind(), k)
		}
	}
	// Map order is random; the SQL should be the same on every run.
	sortStrings(items)
	return items, zeroIn, nil
}
