package sqlexpr

import (
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
)

func sortStrings(s []string) { slices.Sort(s) }

func (t *translator) args(nodes []ast.Node) ([]val, error) {
	out := make([]val, len(nodes))
	for i, n := range nodes {
		v, err := t.node(n)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// builtin translates expr's builtins that have an exact translation.
func (t *translator) builtin(n *ast.BuiltinNode) (val, error) {
	switch n.Name {
	case "lower", "upper":
		return val{}, unsupported(n, "%s follows Go's Unicode case mapping, which PostgreSQL's collations do not promise", n.Name)
	case "trim":
		return val{}, unsupported(n, "trim removes Go's Unicode white space, which PostgreSQL's btrim does not")
	case "all", "any", "none", "one", "filter", "map", "count", "sum", "mean":
		return val{}, unsupported(n, "%s works on lists, which facts are not in SQL", n.Name)
	}
	args, err := t.args(n.Arguments)
	if err != nil {
		return val{}, err
	}
	one := len(args) == 1
	switch n.Name {
	case "len":
		if one && args[0].k == String {
			// expr counts runes, as char_length counts characters.
			return val{v: "char_length(" + args[0].v + ")::bigint", e: strict("", args...), i: inexactOf("", args...), k: Int}, nil
		}
	case "abs":
		if one && args[0].k == Int {
			// Go's -x of the smallest int is itself.
			return val{v: wrap("abs((" + args[0].v + ")::numeric)"), e: strict("", args...), i: inexactOf("", args...), k: Int}, nil
		}
		if one && args[0].k == Float {
			return val{v: "abs(" + args[0].v + ")", e: strict("", args...), i: inexactOf("", args...), k: Float}, nil
		}
	case "ceil", "floor":
		if one && numeric(args[0].k) {
			v := asFloat(args[0])
			if args[0].k == Float {
				v = n.Name + "(" + v + ")"
			}
			return val{v: v, e: strict("", args...), i: inexactOf("", args...), k: Float}, nil
		}
	case "round":
		if one && numeric(args[0].k) {
			x := asFloat(args[0])
			v := x
			if args[0].k == Float {
				// Go's math.Round rounds half away from zero; PostgreSQL's
				// round(float8) rounds half to even. x - floor(x) is exact
				// for every float8.
				a := "abs(" + x + ")"
				v = "(CASE WHEN " + a + " - floor(" + a + ") >= 0.5 THEN ceil(" + a + ") ELSE floor(" + a + ") END * sign(" + x + "))"
			}
			return val{v: v, e: strict("", args...), i: inexactOf("", args...), k: Float}, nil
		}
	case "int":
		if one && args[0].k == Int {
			return args[0], nil
		}
		if one && args[0].k == Float {
			// Go truncates toward zero; out of int64's range its result
			// depends on the machine, so the engine decides.
			x := args[0].v
			return val{v: "CASE WHEN abs(" + x + ") < 9.2e18 THEN trunc(" + x + ")::bigint END", e: strict("", args...),
				i: inexactOf("NOT (abs("+x+") < 9.2e18)", args...), k: Int}, nil
		}
	case "float":
		if one && numeric(args[0].k) {
			return val{v: asFloat(args[0]), e: strict("", args...), i: inexactOf("", args...), k: Float}, nil
		}
	case "string":
		if one {
			return stringOf(n, args[0])
		}
	case "hasPrefix", "hasSuffix":
		if len(args) == 2 && args[0].k == String && args[1].k == String {
			v := "starts_with(" + args[0].v + ", " + args[1].v + ")"
			if n.Name == "hasSuffix" {
				v = endsWith(args[0].v, args[1].v)
			}
			return val{v: v, e: strict("", args...), i: inexactOf("", args...), k: Bool}, nil
		}
	case "max", "min":
		if len(args) >= 2 && sameNumeric(args) {
			fn := "GREATEST"
			if n.Name == "min" {
				fn = "LEAST"
			}
			vs := make([]string, len(args))
			for i, a := range args {
				vs[i] = a.v
			}
			return val{v: fn + "(" + strings.Join(vs, ", ") + ")", e: strict("", args...), i: inexactOf("", args...), k: args[0].k}, nil
		}
	}
	return val{}, unsupported(n, "%s(%s) has no SQL translation", n.Name, kinds(args))
}

func sameNumeric(args []val) bool {
	for _, a := range args {
		if !numeric(a.k) || a.k != args[0].k {
			return false
		}
	}
	return true
}

func kinds(args []val) string {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = a.k.String()
	}
	return strings.Join(s, ", ")
}

// stringOf is string(x): expr formats with %v, which for an integer, a
// string and a bool PostgreSQL's text output matches; a null is "<nil>".
func stringOf(n ast.Node, x val) (val, error) {
	var v string
	switch x.k {
	case Int, Bool:
		v = "(" + x.v + ")::text"
	case String:
		v = x.v
	default:
		return val{}, unsupported(n, "string() of a %s writes it as Go does, and PostgreSQL writes %ss differently", x.k, x.k)
	}
	if x.null {
		v = "COALESCE(" + v + ", '<nil>')"
	}
	return val{v: v, e: x.e, i: x.i, k: String}, nil
}

// call translates tierflow's own helpers.
func (t *translator) call(n *ast.CallNode) (val, error) {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		return val{}, unsupported(n, "calls of values have no SQL translation")
	}
	name := id.Value
	switch name {
	case "months_between", "months_since", "months_between.in", "year", "month", "year.in", "month.in", "date.in":
		return val{}, unsupported(n, "%s reads a calendar, and Go and PostgreSQL carry their own time-zone databases", strings.TrimSuffix(name, ".in"))
	}
	args, err := t.args(n.Arguments)
	if err != nil {
		return val{}, err
	}
	switch name {
	case "is_null":
		if len(args) == 1 {
			return val{v: "(" + args[0].v + ") IS NULL", e: args[0].e, i: args[0].i, k: Bool}, nil
		}
	case "coalesce":
		if len(args) >= 1 && sameKind(args) {
			vs := make([]string, len(args))
			null := true
			for i, a := range args {
				vs[i] = a.v
				null = null && a.null
			}
			return val{v: "COALESCE(" + strings.Join(vs, ", ") + ")", e: or(errs(args)...), i: inexactOf("", args...), k: args[0].k, null: null}, nil
		}
	case "days_since", "days_between":
		if len(args) == 2 && args[0].k == Time && args[1].k == Time {
			return val{v: days(args[0].v, args[1].v), e: strict("", args...), i: inexactOf("", args...), k: Int,
				span: &[2]string{args[0].v, args[1].v}}, nil
		}
	case "ratio":
		if len(args) == 2 && sameNumericOrMixed(args) {
			a, b := asFloat(args[0]), asFloat(args[1])
			return val{v: a + " / NULLIF(" + b + ", 0)", e: strict(b+" = 0", args...),
				i: inexactOf("NOT ("+b+" = 0 OR "+safeQuotient(a, b)+")", args...), k: Float}, nil
		}
	case "safe_div":
		if len(args) == 3 && sameNumericOrMixed(args) {
			a, b, d := asFloat(args[0]), asFloat(args[1]), asFloat(args[2])
			e := strict("", args[0], args[1])
			de := strict("", args[2])
			if de != "" {
				e = or(e, "("+b+") = 0 AND ("+de+")")
			}
			return val{v: "CASE WHEN " + b + " = 0 THEN " + d + " ELSE " + a + " / NULLIF(" + b + ", 0) END", e: e,
				i: inexactOf("NOT ("+b+" = 0 OR "+safeQuotient(a, b)+")", args...), k: Float}, nil
		}
	case "pct_change":
		if len(args) == 2 && sameNumericOrMixed(args) {
			from, to := asFloat(args[0]), asFloat(args[1])
			// (to - from) / abs(from) * 100, in Go's order.
			v := "(" + to + " - " + from + ") / NULLIF(abs(" + from + "), 0) * 100"
			ok := from + " = 0 OR (abs(" + from + ") BETWEEN 1e-100 AND 1e100 AND abs(" + to + ") < 1e100)"
			return val{v: v, e: strict(from+" = 0", args...), i: inexactOf("NOT ("+ok+")", args...), k: Float}, nil
		}
	}
	return val{}, unsupported(n, "%s(%s) has no SQL translation", name, kinds(args))
}

func sameKind(args []val) bool {
	for _, a := range args {
		if a.k != args[0].k {
			return false
		}
	}
	return true
}

func sameNumericOrMixed(args []val) bool {
	for _, a := range args {
		if !numeric(a.k) {
			return false
		}
	}
	return true
}

func errs(args []val) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a.e
	}
	return out
}

// days is the engine's whole days from a to b: Go's time.Duration of b -
// a, which saturates at about 292 years, divided by 24 hours and
// truncated toward zero. extract(epoch) is exact numeric seconds.
func days(a, b string) string {
	d := "(" + epoch(b) + " - " + epoch(a) + ")"
	clamped := "LEAST(GREATEST(" + d + ", -9223372036.854775808), 9223372036.854775807)"
	return "trunc(" + clamped + " / 86400)::bigint"
}

// The time arithmetic below is written with immutable functions only,
// so that Citus can push a statement's subqueries without FROM (the
// decided read's per-customer steps) down to its workers: it refuses
// those with a stable function. On timestamptz, extract and the
// subtraction of an interval are stable (they read the session's time
// zone, for fields and for days across a change of offset); on a
// timestamp they are immutable, and timezone('UTC', x) converts between
// the two exactly (UTC has no offset changes). The results are the
// same instants and seconds in any session's time zone.

// epoch is the seconds since 1970 of the timestamptz t, exact numeric.
func epoch(t string) string { return "extract(epoch FROM timezone('UTC', " + t + "))" }

// minusSeconds is the timestamptz t less secs seconds.
func minusSeconds(t string, secs int) string {
	return "timezone('UTC', timezone('UTC', " + t + ") - make_interval(secs => " + strconv.Itoa(secs) + "))"
}

// maxDayBound is the largest constant a day count is compared with by
// its times (daysCompared): far inside the 106,751 days at which Go's
// time.Duration saturates, so that the count's clamp changes nothing.
const maxDayBound = 100000

// daysCompared is the comparison op ("<", "<=", ">", ">=") of the day
// count from..to with the integer n, as a comparison of the times: what
// days() computes, without its numeric arithmetic, and one an index on
// a time column can serve. ok is false for a bound past maxDayBound.
//
// The count is the difference D in seconds divided by 86,400 and
// truncated toward zero, so for n >= 0 it exceeds n exactly when
// D >= (n+1) * 86,400, and for n < 0 exactly when D > n * 86,400; the
// other operators are that one's negation, or of n-1.
func daysCompared(from, to, op string, n int) (string, bool) {
	if n > maxDayBound || n < -maxDayBound {
		return "", false
	}
	// x > n and x >= n + 1 are the same for integers.
	negate := false
	switch op {
	case ">=":
		n--
	case "<":
		n, negate = n-1, true
	case "<=":
		negate = true
	case ">":
	default:
		return "", false
	}
	var cmp string
	if n >= 0 {
		cmp = from + " <= " + minusSeconds(to, (n+1)*86400)
	} else {
		cmp = from + " < " + minusSeconds(to, n*86400)
	}
	if negate {
		return "NOT (" + cmp + ")", true
	}
	return "(" + cmp + ")", true
}
