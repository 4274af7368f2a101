package rules

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// lint adds warnings for rules that load but are probably mistakes.
func (l *loader) lint(rs *RuleSet, c *exprCompiler, segs []*rawSegmentation, acts []*rawAction, factsDeclared bool) {
	for _, p := range rs.Params {
		if !c.usedParams[p.Name] {
			l.report(SeverityWarning, p.Pos, "params."+p.Name, "remove it, or use it as params."+p.Name, "parameter %q is never used", p.Name)
		}
	}
	if factsDeclared {
		for _, f := range rs.Facts.Fields {
			if !c.usedFacts[f.Name] {
				l.report(SeverityWarning, f.Pos, "facts."+f.Name, "remove it if no rule needs it", "fact %q is never read", f.Name)
			}
		}
	}
	for _, raw := range segs {
		l.lintShadowed(c, raw)
	}
	for _, ra := range acts {
		if ra.compiled != nil && !ra.compiled.transition && ra.act.Cooldown == 0 {
			l.report(SeverityWarning, l.pos(ra.when), ra.field+".when", "add a cooldown, or fire on a transition such as entered(\"lifecycle\", \"at_risk\")", "action %q has no cooldown and no transition, so it is queued again on every run for every customer it matches", ra.act.Name)
		}
	}
}

// lintShadowed warns about segments that can never match because an
// earlier segment already takes every customer they would.
func (l *loader) lintShadowed(c *exprCompiler, raw *rawSegmentation) {
	type seen struct {
		name  string
		canon string
		cmp   *comparison
	}
	var earlier []seen
	for _, rseg := range raw.segments {
		if rseg.compiled == nil {
			continue
		}
		src := rseg.compiled.expr.Source
		canon := canonical(src)
		conjuncts := comparisons(src, c.params)
		for _, e := range earlier {
			reason := ""
			switch {
			case e.canon == "true":
				reason = fmt.Sprintf("segment %q before it matches everyone", e.name)
			case e.canon == canon:
				reason = fmt.Sprintf("segment %q before it has the same condition", e.name)
			case e.cmp != nil:
				for _, cj := range conjuncts {
					if e.cmp.implies(cj) {
						reason = fmt.Sprintf("segment %q before it takes everyone with %s", e.name, e.cmp)
						break
					}
				}
			}
			if reason != "" {
				l.report(SeverityWarning, l.pos(rseg.when), rseg.field+".when", "reorder the segments, highest threshold first", "segment %q can never match: %s", rseg.seg.Name, reason)
				break
			}
		}
		var single *comparison
		if len(conjuncts) == 1 && !strings.Contains(canon, "||") && strings.Count(canon, "&&") == 0 {
			single = conjuncts[0]
		}
		earlier = append(earlier, seen{name: rseg.seg.Name, canon: canon, cmp: single})
	}
}

func canonical(src string) string {
	tree, err := parser.Parse(src)
	if err != nil {
		return src
	}
	return tree.Node.String()
}

// comparison is "fact OP number", the shape of most tier thresholds.
type comparison struct {
	fact  string
	op    string
	value float64
}

func (c *comparison) String() string { return fmt.Sprintf("%s %s %v", c.fact, c.op, c.value) }

// implies reports whether every value satisfying d also satisfies c, so a
// segment guarded by d after one guarded by c never matches.
func (c *comparison) implies(d *comparison) bool {
	if c.fact != d.fact {
		return false
	}
	switch {
	case c.op == ">=" && (d.op == ">=" || d.op == ">"):
		return d.value >= c.value
	case c.op == ">" && d.op == ">=":
		return d.value > c.value
	case c.op == ">" && d.op == ">":
		return d.value >= c.value
	case c.op == "<=" && (d.op == "<=" || d.op == "<"):
		return d.value <= c.value
	case c.op == "<" && d.op == "<=":
		return d.value < c.value
	case c.op == "<" && d.op == "<":
		return d.value <= c.value
	}
	return false
}

// comparisons returns the top-level && conjuncts of src that are simple
// threshold comparisons, with params resolved.
func comparisons(src string, params map[string]Param) []*comparison {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil
	}
	var out []*comparison
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		b, ok := n.(*ast.BinaryNode)
		if !ok {
			return
		}
		if b.Operator == "&&" || b.Operator == "and" {
			walk(b.Left)
			walk(b.Right)
			return
		}
		id, ok := b.Left.(*ast.IdentifierNode)
		if !ok {
			return
		}
		v, ok := number(b.Right, params)
		if !ok {
			return
		}
		switch b.Operator {
		case ">=", ">", "<=", "<":
			out = append(out, &comparison{fact: id.Value, op: b.Operator, value: v})
		}
	}
	walk(tree.Node)
	return out
}

func number(n ast.Node, params map[string]Param) (float64, bool) {
	switch x := n.(type) {
	case *ast.IntegerNode:
		return float64(x.Value), true
	case *ast.FloatNode:
		return x.Value, true
	case *ast.MemberNode:
		id, ok := x.Node.(*ast.IdentifierNode)
		prop, ok2 := x.Property.(*ast.StringNode)
		if ok && ok2 && id.Value == "params" {
			if p, found := params[prop.Value]; found {
				return toFloat(p.Value)
			}
		}
	}
	return 0, false
}
