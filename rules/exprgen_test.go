package rules

import (
	"fmt"
	"math/rand/v2"
)

// genKind is what a generated expression should produce. The generator
// aims at a kind so that a good share of its output type-checks, and
// strays on purpose now and then to reach odd corners.
type genKind int

const (
	kindAny genKind = iota
	kindNum
	kindBool
	kindStr
	kindTime
	kindList
	kindFunc // a method value or a function used as a value
	genKinds
)

// timeMethods are methods of time.Time (and of time.Duration and
// *time.Location, which they return) that a rule must never reach, with
// arguments that fit them.
var timeMethods = []string{
	"Year", "Month", "Day", "Hour", "Minute", "Second", "Nanosecond", "YearDay", "Weekday",
	"Local", "UTC", "Zone", "Location", "Unix", "UnixMilli", "String", "Format", "AppendFormat",
	"In", "IsZero", "IsDST", "Date", "Clock", "ISOWeek", "Truncate", "Round", "Add", "Sub",
	"After", "Before", "Equal", "Compare", "MarshalText", "GoString", "Hours", "Minutes",
}

var methodArgs = []string{"", "", "\"MST\"", "as_of", "t", "1", "i", "nil"}

// exprGen generates random expressions from expr's grammar.
type exprGen struct {
	r    *rand.Rand
	vars []genVar  // lets in scope
	elem []genKind // what # is, in the predicates around
}

type genVar struct {
	name string
	kind genKind
}

func (g *exprGen) pick(options ...string) string { return options[g.r.IntN(len(options))] }

func (g *exprGen) chance(n int) bool { return g.r.IntN(n) == 0 }

// expr returns an expression that should be of kind k, nested at most
// depth deep.
func (g *exprGen) expr(k genKind, depth int) string {
	if g.chance(12) {
		k = genKind(g.r.IntN(int(genKinds)))
	}
	if k == kindAny {
		k = genKind(1 + g.r.IntN(int(genKinds)-1))
	}
	if depth <= 0 || g.chance(4) {
		return g.atom(k)
	}
	d := depth - 1
	switch g.r.IntN(10) {
	case 0:
		return g.let(k, d)
	case 1:
		return g.pipe(k, d)
	case 2:
		return "(" + g.expr(kindBool, d) + " ? " + g.expr(k, d) + " : " + g.expr(k, d) + ")"
	case 3:
		return "if " + g.expr(kindBool, d) + " { " + g.expr(k, d) + " } else { " + g.expr(k, d) + " }"
	case 4:
		return "(" + g.expr(k, d) + " ?? " + g.expr(k, d) + ")"
	case 5:
		return g.container(k, d)
	}
	switch k {
	case kindNum:
		return g.num(d)
	case kindBool:
		return g.boolean(d)
	case kindStr:
		return g.str(d)
	case kindTime:
		return g.time(d)
	case kindList:
		return g.list(d)
	}
	return g.funcValue(d)
}

// atom is a literal, a name or a variable.
func (g *exprGen) atom(k genKind) string {
	for _, v := range g.vars {
		if v.kind == k && g.chance(3) {
			return v.name
		}
	}
	if len(g.elem) > 0 && g.elem[len(g.elem)-1] == k && g.chance(2) {
		return "#"
	}
	switch k {
	case kindNum:
		return g.pick("0", "1", "-2", "3.5", "1e3", "n", "i", "params.p_num", "#index", "rank(\"tier\")", "days_in(\"tier\")")
	case kindBool:
		return g.pick("true", "false", "b", "nil", "changed(\"tier\")", "entered(\"tier\", \"gold\")")
	case kindStr:
		return g.pick(`"a"`, `"Local"`, `'Year'`, `""`, "s", "segment.tier", "previous.tier", "params.p_str", "$env")
	case kindTime:
		return g.pick("as_of", "t", "tn", "as_of", "t")
	case kindList:
		return g.pick("[]", "[1, 2]", "params.p_list", "1..3", "[t, as_of]", `["Local", "Hour"]`)
	}
	return g.pick("year", "len", "days_since", "coalesce", "now", "date", "as_of.Local", "t.Year")
}

func (g *exprGen) let(k genKind, d int) string {
	vk := genKind(1 + g.r.IntN(int(genKinds)-1))
	name := fmt.Sprintf("v%d", len(g.vars))
	value := g.expr(vk, d)
	g.vars = append(g.vars, genVar{name, vk})
	body := g.expr(k, d)
	if vk == kindFunc && g.chance(2) {
		// Call the method value, maybe through a second let.
		body = name + "(" + g.pick(methodArgs...) + ")"
		if g.chance(2) {
			body = "let w = " + body + "; w." + g.pick(timeMethods...) + g.pick("()", "", "(\"MST\")")
		}
	}
	g.vars = g.vars[:len(g.vars)-1]
	return "let " + name + " = " + value + "; " + body
}

func (g *exprGen) pipe(k genKind, d int) string {
	switch k {
	case kindTime:
		return g.expr(kindTime, d) + " | coalesce(" + g.expr(kindTime, d) + ")"
	case kindNum:
		return g.expr(kindTime, d) + " | " + g.pick("year()", "month()", "days_since()", "days_between(as_of)")
	case kindList:
		return g.expr(kindList, d) + " | " + g.predicate(g.pick("filter", "map"), kindAny, d)
	case kindFunc:
		return g.expr(kindTime, d) + " | " + g.pick(timeMethods...) + "()"
	}
	return g.expr(kindList, d) + " | " + g.predicate(g.pick("all", "any", "none", "one", "count", "sum", "find", "reduce", "sortBy", "groupBy"), kindAny, d)
}

// predicate is NAME(BODY), for after a pipe.
func (g *exprGen) predicate(name string, elem genKind, d int) string {
	return name + "(" + g.body(name, elem, d) + ")"
}

// loop is NAME(LIST, BODY).
func (g *exprGen) loop(name string, d int) string {
	elem := genKind(1 + g.r.IntN(int(genKinds)-1))
	list := g.listOf(elem, d)
	return name + "(" + list + ", " + g.body(name, elem, d) + ")"
}

// body is the predicate of builtin name, where # is an item of kind elem.
func (g *exprGen) body(name string, elem genKind, d int) string {
	g.elem = append(g.elem, elem)
	defer func() { g.elem = g.elem[:len(g.elem)-1] }()
	switch {
	case name == "map" || name == "sortBy" || name == "groupBy":
		return g.expr(kindAny, d)
	case g.chance(5):
		return "." + g.pick(timeMethods...) + g.pick("", "()", " != nil")
	case g.chance(5):
		return "#." + g.pick(timeMethods...) + g.pick("", "()")
	}
	return g.expr(kindBool, d)
}

func (g *exprGen) listOf(elem genKind, d int) string {
	switch g.r.IntN(4) {
	case 0:
		return "[" + g.expr(elem, d) + ", " + g.expr(elem, d) + "]"
	case 1:
		return "map(" + g.expr(kindList, d) + ", " + g.expr(elem, d) + ")"
	case 2:
		if elem == kindNum {
			return g.pick("1..3", "0..2", "-1..1")
		}
	}
	return "[" + g.expr(elem, d) + "]"
}

// container wraps a value of kind k in a list, a map, an index or a slice,
// which hides its type from the checker.
func (g *exprGen) container(k genKind, d int) string {
	v := g.expr(k, d)
	switch g.r.IntN(5) {
	case 0:
		return "[" + v + ", " + g.expr(kindAny, d) + "][0]"
	case 1:
		return "{a: " + v + ", b: " + g.expr(kindAny, d) + "}" + g.pick(".a", `["a"]`, "?.a")
	case 2:
		return "coalesce(" + g.pick("nil, ", "") + v + ")"
	case 3:
		return "[" + v + "][" + g.pick("0", "-1", "i - 7") + ":]" + g.pick("[0]", "")
	}
	return g.loop("map", d) + "[0]"
}

func (g *exprGen) num(d int) string {
	switch g.r.IntN(8) {
	case 0:
		return g.expr(kindNum, d) + " " + g.pick("+", "-", "*", "/", "%", "**") + " " + g.expr(kindNum, d)
	case 1:
		return g.pick("year", "month", "days_since", "months_since") + "(" + g.expr(kindTime, d) + ")"
	case 2:
		return g.pick("days_between", "months_between") + "(" + g.expr(kindTime, d) + ", " + g.expr(kindTime, d) + ")"
	case 3:
		return g.pick("len", "sum", "mean", "max", "min", "count") + "(" + g.expr(kindList, d) + ")"
	case 4:
		return g.loop(g.pick("count", "sum"), d)
	case 5:
		return g.pick("abs", "ceil", "floor", "round", "int", "float") + "(" + g.expr(kindNum, d) + ")"
	case 6:
		return g.method(d)
	}
	return g.pick("pct_change", "ratio") + "(" + g.expr(kindNum, d) + ", " + g.expr(kindNum, d) + ")"
}

func (g *exprGen) boolean(d int) string {
	switch g.r.IntN(7) {
	case 0:
		return g.expr(kindNum, d) + " " + g.pick("<", "<=", ">", ">=", "==", "!=") + " " + g.expr(kindNum, d)
	case 1:
		return g.expr(kindTime, d) + " " + g.pick("<", ">", "==", "!=") + " " + g.expr(kindTime, d)
	case 2:
		return g.pick("!", "not ") + g.expr(kindBool, d)
	case 3:
		return g.expr(kindBool, d) + " " + g.pick("&&", "||", "and", "or") + " " + g.expr(kindBool, d)
	case 4:
		return g.loop(g.pick("all", "any", "none", "one"), d)
	case 5:
		return g.expr(kindStr, d) + " " + g.pick("contains", "startsWith", "endsWith", "matches", "in", "==") + " " + g.pick(g.expr(kindStr, d), "params.p_list", `"^a.*"`)
	}
	return g.pick("is_null", "hasPrefix", "hasSuffix") + "(" + g.expr(kindAny, d) + g.pick("", ", "+g.expr(kindStr, d)) + ")"
}

func (g *exprGen) str(d int) string {
	switch g.r.IntN(5) {
	case 0:
		return g.expr(kindStr, d) + " + " + g.expr(kindStr, d)
	case 1:
		return g.pick("string", "lower", "upper", "trim") + "(" + g.expr(kindAny, d) + ")"
	case 2:
		return g.expr(kindStr, d) + "[" + g.pick("0", "1:", ":2") + "]"
	case 3:
		return g.method(d)
	}
	return "string(" + g.expr(kindTime, d) + ")"
}

func (g *exprGen) time(d int) string {
	switch g.r.IntN(4) {
	case 0:
		return g.loop("map", d) + "[0]"
	case 1:
		return g.method(d)
	case 2:
		return "$env." + g.pick("as_of", "t")
	}
	return g.expr(kindTime, d) + " ?? " + g.expr(kindTime, d)
}

func (g *exprGen) list(d int) string {
	switch g.r.IntN(4) {
	case 0:
		return g.loop(g.pick("filter", "map"), d)
	case 1:
		return g.expr(kindList, d) + "[" + g.pick("0:1", "1:", ":1") + "]"
	case 2:
		return g.expr(kindNum, d) + ".." + g.expr(kindNum, d)
	}
	return "[" + g.expr(kindAny, d) + ", " + g.expr(kindAny, d) + "]"
}

// method reads a method of a time, called or not, in every syntax.
func (g *exprGen) method(d int) string {
	base := g.expr(kindTime, d)
	name := g.pick(timeMethods...)
	call := g.pick("()", "()", "", "("+g.pick(methodArgs...)+")")
	switch g.r.IntN(5) {
	case 0:
		return base + "?." + name + call
	case 1:
		return base + `["` + name + `"]`
	case 2:
		return base + "[" + g.expr(kindStr, d) + "]"
	}
	return base + "." + name + call
}

// funcValue is a function or a method as a value.
func (g *exprGen) funcValue(d int) string {
	switch g.r.IntN(4) {
	case 0:
		return g.pick("year", "len", "days_since", "coalesce", "now", "upper")
	case 1:
		return "{a: " + g.expr(kindTime, d) + "." + g.pick(timeMethods...) + "}.a"
	case 2:
		return "[" + g.expr(kindTime, d) + "." + g.pick(timeMethods...) + "][0]"
	}
	return g.expr(kindTime, d) + g.pick(".", "?.") + g.pick(timeMethods...)
}
