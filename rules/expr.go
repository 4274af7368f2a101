package rules

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker/nature"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

// exprKind says what an expression must produce.
type exprKind int

const (
	kindCondition exprKind = iota // must be bool
	kindValue                     // any value (payload fields)
)

// exprCompiler compiles every expression of one rule set against a shared
// typed environment.
type exprCompiler struct {
	l       *loader
	schema  *Schema
	params  map[string]Param
	segs    map[string]*Segmentation
	options []expr.Option
	// usedParams records which params some expression read.
	usedParams map[string]bool
	usedFacts  map[string]bool
	// costs holds the cost of every expression compiled, for the rule
	// set's total.
	costs []exprCost
	// slots lays out the slot environment, and slotted holds each
	// compiled expression's slot program (see Slots.slotProgram), for the
	// fast path; an expression whose slot program failed has none.
	slots   *Slots
	slotted map[*Expr]*vm.Program
}

func newExprCompiler(l *loader, schema *Schema, params []Param, segs []*Segmentation) *exprCompiler {
	c := &exprCompiler{
		l:          l,
		schema:     schema,
		params:     map[string]Param{},
		segs:       map[string]*Segmentation{},
		usedParams: map[string]bool{},
		usedFacts:  map[string]bool{},
	}
	for _, p := range params {
		c.params[p.Name] = p
	}
	for _, s := range segs {
		c.segs[s.Name] = s
	}
	c.options = append([]expr.Option{
		expr.Env(typedEnv(schema, segs)),
		expr.MaxNodes(MaxExprNodes),
		expr.DisableAllBuiltins(),
	}, functions...)
	c.options = append(c.options, dateOptions...)
	for _, b := range allowedBuiltins {
		c.options = append(c.options, expr.EnableBuiltin(b))
	}
	cfg := conf.CreateNew()
	for _, op := range c.options {
		op(cfg)
	}
	c.slots = newSlots(EnvNames(schema, segs), cfg)
	c.slotted = map[*Expr]*vm.Program{}
	return c
}

// dateVisitor returns a visitor that rewrites one expression's date
// helpers by type.
func (c *exprCompiler) dateVisitor() *dateVisitor {
	return &dateVisitor{dates: c.schema.hasDates()}
}

// compiled is the result of compiling one expression.
type compiled struct {
	expr *Expr
	// newRefs names segmentations whose new segment the expression reads.
	newRefs []string
	// transition is true when the expression uses a transition helper
	// (entered, left, changed, upgraded, downgraded).
	transition bool
	// leftAt holds where the expression calls left("SEGMENTATION"), which
	// only actions of a rule set with on_missing: exit may do.
	leftAt []Pos
	// coverageAt holds the expression's calls of overdue and
	// days_since_covered, which only actions may make.
	coverageAt []coverageCall
}

// coverageCall is one call of a helper that reads coverage state.
type coverageCall struct {
	fn, segmentation string
	pos              Pos
}

// compile compiles the expression held by node. It returns nil after
// reporting diagnostics when the expression is invalid.
func (c *exprCompiler) compile(node *yaml.Node, field string, kind exprKind) *compiled {
	src, ok := c.l.scalar(node, field)
	if !ok {
		return nil
	}
	return c.compileSource(node, src, 0, field, kind)
}

// compileSource compiles src, which starts shift runes into node's value.
func (c *exprCompiler) compileSource(node *yaml.Node, src string, shift int, field string, kind exprKind) *compiled {
	if strings.TrimSpace(src) == "" {
		hint := "write a condition such as `spend_12m >= params.vip_spend`"
		if kind == kindValue {
			hint = "write an expression after =, such as =segment.value_tier"
		}
		c.l.errorf(node, field, hint, "expression is empty")
		return nil
	}
	if len(src) > MaxExprBytes {
		c.l.errorf(node, field, "split it into simpler segments or params", "expression is %d bytes; the limit is %d", len(src), MaxExprBytes)
		return nil
	}
	v := &macroVisitor{c: c, src: src}
	dv := c.dateVisitor()
	opts := append([]expr.Option{expr.Patch(v), expr.Patch(dv)}, c.options...)
	// Last, after every visitor that rewrites by type (see recheckCalls).
	opts = append(opts, expr.Patch(recheckCalls{}))
	if kind == kindCondition {
		opts = append(opts, expr.AsBool())
	}
	var rejected *macroError
	var cost estimate
	isDate := false
	var config *conf.Config
	program, err := compileProgram(src, opts, func(tree ast.Node, cfg *conf.Config) bool {
		config = cfg
		if len(v.errs) > 0 {
			return false
		}
		if len(dv.errs) > 0 {
			rejected = &dv.errs[0]
			return false
		}
		isDate = tree.Type() == dateType
		if rejected = checkSafety(tree, cfg); rejected != nil {
			return false
		}
		cost, rejected = estimateCost(tree)
		if rejected == nil && cost.steps > MaxExprSteps {
			e := costError(cost, kind)
			rejected = &e
		}
		return rejected == nil
	})
	if len(v.errs) > 0 {
		for _, e := range v.errs {
			c.reportExprError(node, field, shift, e.loc, e.msg, e.hint)
		}
		return nil
	}
	if err != nil {
		c.reportCompileError(node, field, src, shift, err, kind)
		return nil
	}
	if rejected != nil {
		c.reportExprError(node, field, shift, rejected.loc, rejected.msg, rejected.hint)
		return nil
	}
	for _, r := range v.reads {
		c.usedFacts[r] = true
	}
	c.costs = append(c.costs, exprCost{field: field, pos: exprPos(c.l, node, shift), steps: cost.steps})
	var leftAt []Pos
	for _, loc := range v.leftCalls {
		leftAt = append(leftAt, exprPos(c.l, node, shift+loc.From))
	}
	var coverageAt []coverageCall
	for _, call := range v.coverageCalls {
		call.pos = exprPos(c.l, node, shift+call.loc.From)
		coverageAt = append(coverageAt, call.coverageCall)
	}
	x := &Expr{
		Source:  src,
		Program: program,
		Reads:   v.reads,
		Field:   field,
		Pos:     c.l.pos(node),
		Cost:    cost.steps,
		Date:    isDate,
	}
	n := utf8.RuneCountInString(src)
	x.SourcePos = exprPos(c.l, node, shift)
	end := exprPos(c.l, node, shift+n)
	x.Linear = !strings.ContainsAny(src, "\r\n") && end.Line == x.SourcePos.Line && end.Col == x.SourcePos.Col+n
	if sp, err := c.slots.slotProgram(program, config); err == nil {
		c.slotted[x] = sp
	}
	return &compiled{
		expr:       x,
		newRefs:    v.newRefs,
		transition: v.transition,
		leftAt:     leftAt,
		coverageAt: coverageAt,
	}
}

func (c *exprCompiler) reportCompileError(node *yaml.Node, field, src string, shift int, err error, kind exprKind) {
	msg, hint := err.Error(), ""
	var loc file.Location
	var fe *file.Error
	if errors.As(err, &fe) {
		msg, loc = fe.Message, fe.Location
		if msg == "" && fe.Prev != nil {
			msg = fe.Prev.Error()
		}
	}
	if name, found := strings.CutPrefix(msg, "unknown name "); found {
		if c.l.brokenFacts[name] {
			return // the fact's declaration has an error of its own
		}
		msg = fmt.Sprintf("unknown name %q", name)
		hint = c.nameHint(name, calledAt(src, loc.From, name))
	}
	if got, found := strings.CutPrefix(msg, "expected bool, but got "); found && kind == kindCondition {
		got = goTypeNames.ReplaceAllStringFunc(got, ruleTypeName)
		msg = fmt.Sprintf("a condition must be true or false, but this is %s %s", article(got), got)
		hint = "compare it, e.g. `spend_12m >= 100`"
	}
	switch {
	case strings.Contains(msg, "exceeds maximum allowed nodes"):
		msg = fmt.Sprintf("expression is too complex: it has more than %d parts", MaxExprNodes)
		hint = "split it into simpler segments or params"
		loc = file.Location{}
	case msg == "unexpected token EOF":
		msg = "expression ends too early"
		hint = "something is missing at the end, such as a closing bracket or a value after an operator"
		if h := c.l.commentHint(node); h != "" {
			hint = h
		}
	case msg == `unexpected token Operator("=")`:
		hint = "to compare, write == (two equals signs)"
	case mixesDateAndTime(msg):
		hint = dateTimeHint
	}
	msg = goTypeNames.ReplaceAllStringFunc(msg, ruleTypeName)
	// The date helpers take a date or a time; expr names the last.
	msg = dateHelperArg.ReplaceAllString(msg, "(a date or a time) to call $1")
	c.reportExprError(node, field, shift, loc, msg, hint)
}

// dateHelperArg finds expr's message about an argument of a helper that
// takes a date or a time.
var dateHelperArg = regexp.MustCompile(`\(type time\) to call (days_since|months_since|days_between|months_between|year|month|date)\b`)

// dateTimeHint goes with an operation that mixes a date and a time.
const dateTimeHint = "a date is a day with no time of day: compare it with a date, such as date(as_of) or date(\"2024-06-30\"), " +
	"or take the day of a time with date(t); see \"Dates, times and time zones\" in docs/rules.md"

// mixesDateAndTime reports whether expr's message is about a date met
// with a time.
func mixesDateAndTime(msg string) bool {
	return strings.Contains(msg, "mismatched types time.Time and rules.dateValue") ||
		strings.Contains(msg, "mismatched types rules.dateValue and time.Time")
}

// recheckCalls clears the result type expr's checker caches on call
// nodes. expr type-checks the tree before running patchers and, on its
// final check, trusts a call's cached type without checking the arguments
// again (see expr-lang/expr#478), so an unknown name such as now() or
// today inside days_between(...) would compile. expr walks visitors that
// have Reset and ShouldRepeat after a pre-check each, so this one must
// come after all others (dateVisitor, the date comparisons), just before
// the final check.
type recheckCalls struct{}

func (recheckCalls) Visit(node *ast.Node) {
	if call, ok := (*node).(*ast.CallNode); ok {
		call.SetNature(nature.Nature{})
	}
}

func (recheckCalls) Reset()             {}
func (recheckCalls) ShouldRepeat() bool { return false }

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// calledAt reports whether name, found at rune offset at in src, is
// followed by "(", that is, called as a function.
func calledAt(src string, at int, name string) bool {
	runes := []rune(src)
	if at < 0 || at+len([]rune(name)) > len(runes) {
		return false
	}
	rest := strings.TrimLeft(string(runes[at+len([]rune(name)):]), " \t\n")
	return strings.HasPrefix(rest, "(")
}

// goTypeNames finds Go type names in expr's messages, which rule authors
// know by their schema names.
var goTypeNames = regexp.MustCompile(`\b(float64|int|time\.Time|rules\.dateValue|interface \{\}|<nil>)\b`)

func ruleTypeName(goName string) string {
	switch goName {
	case "float64":
		return "number"
	case "int":
		return "integer"
	case "time.Time":
		return "time"
	case "rules.dateValue":
		return "date"
	case "<nil>":
		return "null"
	}
	return "any"
}

// nameHint suggests a fix for an unknown name in an expression: a near
// function name when the name is called, else a near fact name.
func (c *exprCompiler) nameHint(name string, called bool) string {
	switch name {
	case "params":
		return "write params.NAME"
	case "segment", "previous":
		return "write " + name + ".SEGMENTATION, e.g. " + name + ".value_tier"
	case "now", "today":
		return "rules cannot read the clock; use as_of, date(as_of), days_since(t) or days_between(a, b)"
	}
	if called {
		if h := suggest(name, append(append([]string(nil), functionNames...), macroNames...)); h != "" {
			return h
		}
		return "see the functions in docs/rules.md"
	}
	var facts []string
	if c.schema != nil {
		facts = c.schema.Names()
	}
	near := append(append([]string{AsOfVar}, facts...), sortedKeys(c.l.brokenFacts)...)
	if h := suggest(name, near); h != "" {
		return h
	}
	if len(facts) > 0 {
		return "facts are: " + strings.Join(facts, ", ")
	}
	return ""
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// reportExprError reports an error at loc (rune offsets into the
// expression, which starts shift runes into node's value), mapped to its
// line and column in the rule file.
func (c *exprCompiler) reportExprError(node *yaml.Node, field string, shift int, loc file.Location, msg, hint string) {
	c.l.report(SeverityError, exprPos(c.l, node, shift+loc.From), field, hint, "%s", msg)
}

// exprPos maps a rune offset inside node's value to a file position. It
// walks the source from where the value starts, matching the value's runes
// to the source's and skipping what YAML took out: indentation, line
// breaks folded into spaces, and quote escapes. That makes it exact for
// plain, quoted, literal (|) and folded (>) text, on one line or many.
// If the walk gets lost it returns the node's own position.
func exprPos(l *loader, node *yaml.Node, offset int) Pos {
	p := l.pos(node)
	if line, col, ok := sourcePos(l, node, offset); ok {
		p.Line, p.Col = line, col
	}
	return p
}

func sourcePos(l *loader, node *yaml.Node, offset int) (int, int, bool) {
	w := &sourceWalker{l: l, line: node.Line, col: node.Column, text: l.lineRunes(node.Line)}
	switch node.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		w.col++ // the opening quote
	case yaml.LiteralStyle, yaml.FoldedStyle:
		w.col = len(w.text) + 1 // the text starts on the line after | or >
	}
	value := []rune(node.Value)
	offset = min(max(offset, 0), len(value))
	isSpace := func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
	for i := 0; ; {
		r, ok := w.peek()
		if !ok {
			return 0, 0, false
		}
		if i == offset {
			if i < len(value) && !isSpace(value[i]) && isSpace(r) {
				w.next() // indentation before the target
				continue
			}
			return w.line, w.col, true
		}
		switch {
		case r == value[i]:
			w.next()
			i++
		case isSpace(r):
			w.next()
		case isSpace(value[i]):
			i++ // a line break YAML folded, or an escaped \n
		case r == '\\' || r == '\'':
			w.next() // the first character of an escape
		default:
			return 0, 0, false
		}
	}
}

// sourceWalker reads the source rune by rune, tracking the line and the
// column (in runes, as yaml.v3 counts them).
type sourceWalker struct {
	l         *loader
	line, col int
	text      []rune // the current line
}

// peek returns the rune at the current position, '\n' at a line's end.
func (w *sourceWalker) peek() (rune, bool) {
	switch {
	case w.col < 1 || w.line < 1:
		return 0, false
	case w.col <= len(w.text):
		return w.text[w.col-1], true
	case w.col == len(w.text)+1 && w.line < w.l.lineCount():
		return '\n', true
	}
	return 0, false
}

func (w *sourceWalker) next() {
	if w.col <= len(w.text) {
		w.col++
		return
	}
	w.line++
	w.col = 1
	w.text = w.l.lineRunes(w.line)
}
