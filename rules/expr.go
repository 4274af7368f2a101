package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
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
	for _, b := range allowedBuiltins {
		c.options = append(c.options, expr.EnableBuiltin(b))
	}
	return c
}

// compiled is the result of compiling one expression.
type compiled struct {
	expr *Expr
	// newRefs names segmentations whose new segment the expression reads.
	newRefs []string
	// transition is true when the expression uses a transition helper
	// (entered, left, changed, upgraded, downgraded).
	transition bool
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
		c.l.errorf(node, field, "write a condition such as `spend_12m >= params.vip_spend`", "expression is empty")
		return nil
	}
	if len(src) > MaxExprBytes {
		c.l.errorf(node, field, "split it into simpler segments or params", "expression is %d bytes; the limit is %d", len(src), MaxExprBytes)
		return nil
	}
	v := &macroVisitor{c: c, src: src}
	opts := append([]expr.Option{expr.Patch(v)}, c.options...)
	if kind == kindCondition {
		opts = append(opts, expr.AsBool())
	}
	program, err := expr.Compile(src, opts...)
	if len(v.errs) > 0 {
		for _, e := range v.errs {
			c.reportExprError(node, field, src, shift, e.loc, e.msg, e.hint)
		}
		return nil
	}
	if err != nil {
		c.reportCompileError(node, field, src, shift, err, kind)
		return nil
	}
	for _, r := range v.reads {
		c.usedFacts[r] = true
	}
	return &compiled{
		expr: &Expr{
			Source:  src,
			Program: program,
			Reads:   v.reads,
			Field:   field,
			Pos:     c.l.pos(node),
		},
		newRefs:    v.newRefs,
		transition: v.transition,
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
		msg = fmt.Sprintf("unknown name %q", name)
		hint = c.nameHint(name)
	}
	if got, found := strings.CutPrefix(msg, "expected bool, but got "); found && kind == kindCondition {
		msg = fmt.Sprintf("a condition must be true or false, but this is a %s", got)
		hint = "compare it, e.g. `spend_12m >= 100`"
	}
	c.reportExprError(node, field, src, shift, loc, goTypeNames.ReplaceAllStringFunc(msg, ruleTypeName), hint)
}

// goTypeNames finds Go type names in expr's messages, which rule authors
// know by their schema names.
var goTypeNames = regexp.MustCompile(`\b(float64|int|time\.Time|interface \{\}|<nil>)\b`)

func ruleTypeName(goName string) string {
	switch goName {
	case "float64":
		return "number"
	case "int":
		return "integer"
	case "time.Time":
		return "time"
	case "<nil>":
		return "null"
	}
	return "any"
}

// nameHint suggests a fix for an unknown name in an expression.
func (c *exprCompiler) nameHint(name string) string {
	switch name {
	case "params":
		return "write params.NAME"
	case "segment", "previous":
		return "write " + name + ".SEGMENTATION, e.g. " + name + ".value_tier"
	case "now", "today", "date":
		return "rules cannot read the clock; use as_of, days_since(t) or days_between(a, b)"
	}
	var names []string
	if c.schema != nil {
		names = append(names, c.schema.Names()...)
	}
	names = append(names, AsOfVar)
	names = append(names, functionNames...)
	names = append(names, macroNames...)
	if h := suggest(name, names); h != "" {
		return h
	}
	if c.schema != nil {
		return "facts are: " + strings.Join(c.schema.Names(), ", ")
	}
	return ""
}

// reportExprError reports an error at loc (rune offsets into src), mapped
// to its line and column in the rule file.
func (c *exprCompiler) reportExprError(node *yaml.Node, field, src string, shift int, loc file.Location, msg, hint string) {
	p := exprPos(c.l, node, src, loc.From)
	if p.Line == node.Line {
		p.Col += shift
	}
	c.l.report(SeverityError, p, field, hint, "%s", msg)
}

// exprPos maps a rune offset inside an expression to a file position. It
// is exact for one-line expressions, quoted or not, and for literal
// blocks (|); for folded text it points at the right line's start.
func exprPos(l *loader, node *yaml.Node, src string, offset int) Pos {
	line, col := 0, 0
	for i, r := range []rune(src) {
		if i == offset {
			break
		}
		if r == '\n' {
			line++
			col = 0
		} else {
			col++
		}
	}
	p := l.pos(node)
	switch node.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if line == 0 {
			p.Col += 1 + col
		} else {
			p.Line += line
			p.Col = 1
		}
	case yaml.LiteralStyle, yaml.FoldedStyle:
		p.Line += 1 + line
		p.Col = 1 + indentOf(l.src, p.Line) + col
	default:
		if line == 0 {
			p.Col += col
		} else {
			p.Line += line
			p.Col = 1 + indentOf(l.src, p.Line)
		}
	}
	return p
}

func indentOf(src []byte, line int) int {
	lines := strings.Split(string(src), "\n")
	if line < 1 || line > len(lines) {
		return 0
	}
	text := lines[line-1]
	return len(text) - len(strings.TrimLeft(text, " "))
}
