package rules

import (
	"fmt"
	"strconv"
	"time"
)

// A derived fact is declared as one call, `sum(amount, last 365d)`. Its
// small grammar is parsed here, by hand, rather than by expr: windows
// (`last 365d`, `365d..730d before`) and filters (`category = "books"`)
// are not expressions, and every argument is checked against what its
// function takes.
//
//	call   = name "(" [arg {"," arg}] ")"
//	arg    = name | number | duration | list | window | filter
//	window = "last" duration | duration ".." duration "before"
//	filter = "category" ("=" | "==") string | "category" "in" "[" string {"," string} "]"
//	list   = "[" number {"," number} "]"

// argKind is what one argument of a call is.
type argKind int

const (
	argName argKind = iota + 1
	argNumber
	argDuration
	argList
	argWindow
	argFilter
)

var argKindNames = map[argKind]string{
	argName: "a name", argNumber: "a number", argDuration: "a duration", argList: "a list",
	argWindow: "a window", argFilter: "a category filter",
}

// darg is one parsed argument.
type darg struct {
	kind     argKind
	off      int
	name     string
	number   float64
	duration time.Duration
	list     []float64
	window   Window
	cats     []string
}

// dcall is a parsed declaration: the function called and its arguments.
type dcall struct {
	name string
	off  int
	args []darg
}

// dparser parses tokens into a call.
type dparser struct {
	toks []dtoken
	i    int
}

func (p *dparser) peek() dtoken { return p.toks[p.i] }

func (p *dparser) next() dtoken {
	t := p.toks[p.i]
	if t.kind != dEOF {
		p.i++
	}
	return t
}

func (p *dparser) is(text string) bool {
	t := p.peek()
	return t.kind == dPunct && t.text == text
}

func (p *dparser) expect(text, hint string) *derivedError {
	if !p.is(text) {
		return errAt(p.peek().off, hint, "expected %q, found %s", text, describe(p.peek()))
	}
	p.next()
	return nil
}

func describe(t dtoken) string {
	if t.kind == dEOF {
		return "the end"
	}
	return fmt.Sprintf("%q", t.text)
}

// parseDerived parses one declaration.
func parseDerived(src string) (*dcall, *derivedError) {
	if len(src) > maxDerivedSource {
		return nil, errAt(0, "a derived fact is one short call", "declaration is %d bytes; the limit is %d", len(src), maxDerivedSource)
	}
	toks, err := lexDerived(src)
	if err != nil {
		return nil, err
	}
	p := &dparser{toks: toks}
	t := p.next()
	if t.kind != dName {
		return nil, errAt(t.off, "write a call such as sum(amount, last 365d) or pct_rank(spend_12m)", "expected a function name, found %s", describe(t))
	}
	c := &dcall{name: t.text, off: t.off}
	if err := p.expect("(", fmt.Sprintf("call it: %s(...)", t.text)); err != nil {
		return nil, err
	}
	for !p.is(")") {
		if len(c.args) > 0 {
			if err := p.expect(",", "separate arguments with commas"); err != nil {
				return nil, err
			}
		}
		a, err := p.arg()
		if err != nil {
			return nil, err
		}
		c.args = append(c.args, a)
	}
	p.next()
	if t := p.peek(); t.kind != dEOF {
		return nil, errAt(t.off, "a derived fact is one call; combine facts in the rules' conditions", "unexpected %s after the call", describe(t))
	}
	return c, nil
}

// arg parses one argument.
func (p *dparser) arg() (darg, *derivedError) {
	t := p.next()
	a := darg{off: t.off}
	switch {
	case t.kind == dName && t.text == "last":
		d, err := p.duration("last")
		a.kind, a.window = argWindow, Window{To: d}
		return a, err
	case t.kind == dName && t.text == "category":
		cats, err := p.filter()
		a.kind, a.cats = argFilter, cats
		return a, err
	case t.kind == dName:
		a.kind, a.name = argName, t.text
	case t.kind == dNumber:
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return a, errAt(t.off, "", "%q is not a number", t.text)
		}
		a.kind, a.number = argNumber, v
	case t.kind == dDuration:
		return p.durationArg(t)
	case t.kind == dPunct && t.text == "[":
		list, err := p.numbers()
		a.kind, a.list = argList, list
		return a, err
	default:
		return a, errAt(t.off, "arguments are names, numbers, durations (365d), windows (last 365d) and lists ([0.8, 0.95])", "unexpected %s", describe(t))
	}
	return a, nil
}

// durationArg is a duration alone (`90d`) or the start of a window
// (`365d..730d before`).
func (p *dparser) durationArg(t dtoken) (darg, *derivedError) {
	a := darg{off: t.off}
	d, err := ParseDuration(t.text)
	if err != nil {
		return a, errAt(t.off, "write 365d, 52w or 36h", "%v", err)
	}
	if !p.is("..") {
		a.kind, a.duration = argDuration, d
		return a, nil
	}
	p.next()
	to, derr := p.duration("..")
	if derr != nil {
		return a, derr
	}
	if b := p.next(); b.kind != dName || b.text != "before" {
		return a, errAt(b.off, fmt.Sprintf("write %s..%s before", t.text, FormatDuration(to)), "expected \"before\" after the window, found %s", describe(b))
	}
	if to <= d {
		return a, errAt(t.off, fmt.Sprintf("write the nearer end first: %s..%s before", FormatDuration(to), t.text), "the window %s..%s before is empty", t.text, FormatDuration(to))
	}
	a.kind, a.window = argWindow, Window{From: d, To: to}
	return a, nil
}

// duration reads the duration after word.
func (p *dparser) duration(word string) (time.Duration, *derivedError) {
	t := p.next()
	if t.kind != dDuration {
		return 0, errAt(t.off, "write a duration such as 365d, 52w or 36h", "expected a duration after %q, found %s", word, describe(t))
	}
	d, err := ParseDuration(t.text)
	if err != nil {
		return 0, errAt(t.off, "write 365d, 52w or 36h", "%v", err)
	}
	if d == 0 {
		return 0, errAt(t.off, "a window is longer than 0", "%q is an empty window", t.text)
	}
	return d, nil
}

// filter reads `= "x"` or `in ["x", "y"]` after "category".
func (p *dparser) filter() ([]string, *derivedError) {
	const hint = `write category = "books" or category in ["books", "music"]`
	if p.is("=") {
		p.next()
		t := p.next()
		if t.kind != dString {
			return nil, errAt(t.off, hint, "expected a quoted category after =, found %s", describe(t))
		}
		return []string{t.text}, nil
	}
	if t := p.next(); t.kind != dName || t.text != "in" {
		return nil, errAt(t.off, hint, "expected = or in after category, found %s", describe(t))
	}
	if err := p.expect("[", hint); err != nil {
		return nil, err
	}
	var out []string
	for !p.is("]") {
		if len(out) > 0 {
			if err := p.expect(",", "separate the categories with commas"); err != nil {
				return nil, err
			}
		}
		t := p.next()
		if t.kind != dString {
			return nil, errAt(t.off, hint, "expected a quoted category, found %s", describe(t))
		}
		out = append(out, t.text)
	}
	p.next()
	return out, nil
}

// numbers reads a list of numbers after "[".
func (p *dparser) numbers() ([]float64, *derivedError) {
	var out []float64
	for !p.is("]") {
		if len(out) > 0 {
			if err := p.expect(",", "separate the numbers with commas"); err != nil {
				return nil, err
			}
		}
		t := p.next()
		if t.kind != dNumber {
			return nil, errAt(t.off, "write a list of numbers such as [0.8, 0.95]", "expected a number, found %s", describe(t))
		}
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, errAt(t.off, "", "%q is not a number", t.text)
		}
		out = append(out, v)
	}
	p.next()
	return out, nil
}
