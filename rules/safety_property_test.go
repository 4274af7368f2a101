package rules

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

// propertySrc declares a fact of every type, params of every kind and a
// segmentation, so that generated expressions can reach everything a rule
// can.
const propertySrc = `ruleset: property
params:
  p_num: 3
  p_str: Local
  p_list: [gold, Year]
facts:
  n: number
  i: integer
  s: string
  b: bool
  t: time
  tn: time?
segmentations:
  - name: tier
    segments:
      - name: gold
        when: n > 0
      - name: basic
        fallback: true
`

// TestNoMethodReachable is a property test of the safety check: it
// compiles expressions generated from the whole expr grammar (literals,
// the rule environment, members including every method name of
// time.Time, calls, let, pipes, predicates with #, ternaries, ranges,
// list and map literals, slices, optional chaining) and checks that none
// that compiles can call a method or read the host's clock or zone:
//   - its bytecode has no opcode that calls a function value or a method
//     (only named rule functions and builtins are called);
//   - its optimized tree has no function-typed node other than called
//     names and predicates;
//   - run under three host time zones (time.Local), and so at three wall
//     clock times, it returns the same result or error every time, and
//     the result holds no function and no time outside UTC.
//
// The generator is seeded, so every run checks the same expressions.
func TestNoMethodReachable(t *testing.T) {
	// Not parallel: the test sets time.Local.
	total := 20000
	if testing.Short() {
		total = 2000
	}
	l := &loader{file: "property.yaml", src: []byte(propertySrc)}
	rs := l.compile(l.src, Options{})
	if l.failed() {
		t.Fatalf("the environment does not compile:\n%v", ErrorList(l.diags))
	}
	c := newExprCompiler(l, rs.Facts, rs.Params, rs.Segmentations)
	env := propertyEnv(rs)
	zones := []*time.Location{time.UTC, time.FixedZone("UTC+8", 8*3600), time.FixedZone("UTC-5", -5*3600)}
	saved := time.Local
	defer func() { time.Local = saved }()

	g := &exprGen{r: rand.New(rand.NewPCG(10, 2))}
	var compiled, methodErrors int
	for range total {
		src := g.expr(kindAny, 4)
		l.diags = nil
		node := &yaml.Node{Kind: yaml.ScalarNode, Value: src, Line: 1, Column: 1}
		cp := c.compileSource(node, src, 0, "probe", kindValue)
		if cp == nil {
			for _, d := range l.diags {
				if strings.Contains(d.Message, "methods of values cannot be called") {
					methodErrors++
				}
			}
			continue
		}
		compiled++
		program := cp.expr.Program
		if op, ok := callsFuncValue(program); ok {
			t.Errorf("%s\ncompiled to a program with opcode %d, which calls a function value or a method", src, op)
			continue
		}
		if n := funcTypedNode(program.Node()); n != nil {
			t.Errorf("%s\ncompiled to a tree holding %s, of function type %s", src, n, n.Type())
			continue
		}
		var first string
		for i, zone := range zones {
			time.Local = zone
			out, err := vm.Run(program, env)
			got := fmt.Sprintf("%#v %v", out, out)
			if err != nil {
				got = "error: " + err.Error()
			}
			if bad := hostValue(reflect.ValueOf(out)); bad != "" {
				t.Errorf("%s\nreturned %s under time.Local = %s", src, bad, zone)
			}
			if i == 0 {
				first = got
			} else if got != first {
				t.Errorf("%s\ndepends on the host's time zone or clock:\n  time.Local = UTC: %s\n  time.Local = %s: %s", src, first, zone, got)
			}
		}
		time.Local = saved
	}
	t.Logf("%d expressions: %d compiled, %d rejected as reaching a method", total, compiled, methodErrors)
	// The generator must keep exercising both sides of the check.
	if compiled < total/10 || methodErrors < total/20 {
		t.Errorf("the generator is off: of %d expressions %d compiled and %d reached a method; want at least %d and %d", total, compiled, methodErrors, total/10, total/20)
	}
}

// propertyEnv is a customer's environment, with times in UTC at an hour
// where a host's zone changes the day, the month and the year.
func propertyEnv(rs *RuleSet) map[string]any {
	env := map[string]any{
		AsOfVar: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC),
		"n":     2.5, "i": 7, "s": "Local", "b": true,
		"t":  time.Date(2023, 12, 31, 20, 30, 0, 0, time.UTC),
		"tn": nil,
	}
	for _, s := range rs.Segmentations {
		v := VarsFor(s.Name)
		env[v.Segment], env[v.Previous] = "gold", "basic"
		env[v.Rank], env[v.PreviousRank], env[v.DaysIn], env[v.DaysInPrevious] = 1, 2, 3, 4
	}
	return env
}

// callsFuncValue returns an opcode of p that calls a method or a function
// value rather than a named function or builtin.
func callsFuncValue(p *vm.Program) (vm.Opcode, bool) {
	for _, op := range p.Bytecode {
		switch op {
		case vm.OpMethod, vm.OpLoadMethod, vm.OpCall, vm.OpCallFast, vm.OpCallTyped:
			return op, true
		}
	}
	return 0, false
}

// funcTypedNode returns a node of function type in tree other than a
// called name and a predicate.
func funcTypedNode(tree ast.Node) ast.Node {
	allowed := map[ast.Node]bool{}
	ast.Walk(&tree, allowVisitor(allowed))
	var found ast.Node
	ast.Walk(&tree, visitFunc(func(n ast.Node) {
		if found == nil && n.Type().Kind() == reflect.Func && !allowed[n] {
			found = n
		}
	}))
	return found
}

type visitFunc func(ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(*n) }

// hostValue describes a part of v that a rule must never produce: a
// function, or a time in a zone other than UTC (such as the host's).
func hostValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Func:
		return "a function " + v.Type().String()
	case reflect.Interface, reflect.Pointer:
		if !v.IsNil() {
			return hostValue(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if s := hostValue(v.Index(i)); s != "" {
				return s
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if s := hostValue(it.Value()); s != "" {
				return s
			}
		}
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok && t.Location() != time.UTC {
			return "a time in zone " + t.Location().String()
		}
	}
	return ""
}
