package ruletest

import (
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// ParamValue is a param a traced rule read, with the value it had in the
// case. Params are constants of the rule set (docs/rules.md#params), so
// the value is the rule file's; a test case cannot override it.
type ParamValue struct {
	Name  string
	Value any
}

// ParamsRead lists the params read by the rules the trace evaluated: the
// conditions of the segments tried (not those an earlier segment kept
// from being reached), the conditions of the actions evaluated and the
// payload of the actions that fired, in first-use order, each once. A
// compiled condition holds a param's value, not its name, so the trace's
// reads do not show it; a failing case prints these beside them.
func ParamsRead(rs *rules.RuleSet, tr *engine.Trace) []ParamValue {
	if tr == nil || len(rs.Params) == 0 {
		return nil
	}
	pr := paramReader{rs: rs, seen: map[string]bool{}}
	for _, st := range tr.Segmentations {
		for _, rt := range st.Tried {
			if rt.Outcome != engine.OutcomeNotReached {
				pr.read(rt.When)
			}
		}
	}
	for _, at := range tr.Actions {
		if at.Outcome == engine.OutcomeNotReached {
			continue
		}
		pr.read(at.When)
		if at.Queued == nil {
			continue
		}
		if a, _ := rs.Action(at.Name); a != nil {
			for _, f := range a.Payload {
				if f.Expr != nil {
					pr.read(f.Expr.Source)
				}
			}
		}
	}
	return pr.out
}

// paramReader collects the params expressions read.
type paramReader struct {
	rs   *rules.RuleSet
	seen map[string]bool
	out  []ParamValue
}

// read adds the params src reads. The source compiled when the rule file
// loaded, so it parses; one that does not adds nothing.
func (pr *paramReader) read(src string) {
	if src == "" {
		return
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return
	}
	ast.Walk(&tree.Node, pr)
}

// Visit records params.NAME and params["NAME"].
func (pr *paramReader) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "params" {
		return
	}
	name, ok := m.Property.(*ast.StringNode)
	if !ok || pr.seen[name.Value] {
		return
	}
	for _, p := range pr.rs.Params {
		if p.Name == name.Value {
			pr.seen[p.Name] = true
			pr.out = append(pr.out, ParamValue{Name: p.Name, Value: p.Value})
		}
	}
}
