package rules

import (
	"fmt"
	"reflect"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
)

// methodHint goes with every error about reaching a method of a value.
const methodHint = "use the helper functions in docs/rules.md"

// safetyCheck walks a type-checked expression and rejects every way it
// could reach a method of a Go value, such as time.Time's Local, Hour or
// Zone, which would make results depend on the host's clock or time zone,
// and every builtin the rules do not allow.
//
// The macro visitor already rejects x.f(), the method call as written.
// A method can also be taken as a value and called later: through let
// (let f = as_of.Year; f()), from a list or a map literal, as the # of a
// predicate, or through a value whose type is only known at run time
// ([as_of][0].Local), where expr fetches methods by name. So the check
// reasons about types, not syntax:
//   - no node may have a function type, except a function's name where it
//     is called and a predicate given to a builtin;
//   - a call's callee must be the name of one of the rule functions;
//   - a member of a value with methods (a time) is always a method;
//   - a member of a value of unknown type must be an integer index or a
//     literal name that cannot name a Go method (Go methods that can be
//     reached by name start with an upper-case letter).
type safetyCheck struct {
	cfg *conf.Config
	// allowed holds the function-typed nodes that may be: called function
	// names and predicates.
	allowed map[ast.Node]bool
	errs    []macroError
}

// checkSafety returns the first reason tree, type-checked against cfg,
// could reach a method or a disallowed builtin, or nil. It reports the
// innermost offending node (the walk is post-order), which is where the
// author went wrong: in let f = as_of.Year; f(), that is as_of.Year.
func checkSafety(tree ast.Node, cfg *conf.Config) *macroError {
	s := &safetyCheck{cfg: cfg, allowed: map[ast.Node]bool{}}
	ast.Walk(&tree, allowVisitor(s.allowed))
	ast.Walk(&tree, s)
	if len(s.errs) == 0 {
		return nil
	}
	return &s.errs[0]
}

// allowVisitor marks the function-typed nodes that are allowed: callees
// (checked in their own right by safetyCheck.call) and predicates.
type allowVisitor map[ast.Node]bool

func (a allowVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.CallNode:
		a[n.Callee] = true
	case *ast.BuiltinNode:
		for _, arg := range n.Arguments {
			if p, ok := arg.(*ast.PredicateNode); ok {
				a[p] = true
			}
		}
	}
}

func (s *safetyCheck) fail(n ast.Node, hint, format string, args ...any) {
	s.errs = append(s.errs, macroError{loc: n.Location(), msg: fmt.Sprintf(format, args...), hint: hint})
}

func (s *safetyCheck) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			s.fail(n, "name the fact directly", "$env is not available in rules")
			return
		}
	case *ast.BuiltinNode:
		if !contains(allowedBuiltins, n.Name) {
			s.fail(n, "the functions rules can use are listed in docs/rules.md", "%s is not available in rules", n.Name)
			return
		}
	case *ast.CallNode:
		if !s.call(n) {
			return
		}
	case *ast.MemberNode:
		if !s.member(n) {
			return
		}
	}
	if n := *node; isFunc(n.Type()) && !s.allowed[n] {
		s.funcValue(n)
	}
}

func (s *safetyCheck) functionHint(name string) string {
	if h := suggest(name, functionNames); h != "" {
		return h
	}
	return "the functions rules can use are listed in docs/rules.md"
}

// call accepts a call of one of the rule functions by its name.
func (s *safetyCheck) call(n *ast.CallNode) bool {
	switch callee := n.Callee.(type) {
	case *ast.IdentifierNode:
		// expr compiles a call of a function's name as a call of that
		// function even where a let shadows the name, so the name alone
		// says what runs.
		if s.cfg.Functions[callee.Value] != nil {
			return true
		}
		s.fail(n, s.functionHint(callee.Value), "only the functions in docs/rules.md can be called, and %s is not one of them", callee.Value)
	case *ast.MemberNode:
		s.method(callee)
	default:
		s.fail(n, "the functions rules can call are listed in docs/rules.md", "only the functions in docs/rules.md can be called")
	}
	return false
}

// member accepts field and element reads that cannot be a method.
func (s *safetyCheck) member(n *ast.MemberNode) bool {
	base := n.Node.Type()
	name, named := n.Property.(*ast.StringNode)
	switch {
	case base.Kind() == reflect.Interface:
		// Only known at run time, where expr's Fetch returns a method of
		// the value when one has the name.
		if named && !mayNameMethod(name.Value) {
			return true
		}
		if !named && isInteger(n.Property.Type()) {
			return true
		}
		if named {
			s.method(n)
			return false
		}
		s.fail(n, `write the name itself, such as x.name or x["name"]`, "a name computed while the rule runs cannot be looked up in a value whose type is also only known then, because it could name a method")
		return false
	case n.Method, named && hasMethod(base, name.Value):
		s.method(n)
		return false
	}
	return true
}

// method reports m, which reads a method of a value.
func (s *safetyCheck) method(m *ast.MemberNode) {
	name := "this"
	if p, ok := m.Property.(*ast.StringNode); ok {
		name = p.Value
	}
	base := m.Node.Type()
	if base.Kind() == reflect.Interface {
		s.fail(m, methodHint, "methods of values cannot be called in rules, and %s could be one: the type of the value is only known when the rule runs", name)
		return
	}
	tn := valueTypeName(base)
	hint := methodHint
	if base == timeType {
		hint += ", such as year(t), month(t), days_since(t) or days_between(a, b)"
	}
	s.fail(m, hint, "methods of values cannot be called in rules, and %s is a method of %s %s", name, article(tn), tn)
}

// funcValue reports n, a function used as a value.
func (s *safetyCheck) funcValue(n ast.Node) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if s.cfg.Functions[n.Value] != nil || s.cfg.Builtins[n.Value] != nil {
			s.fail(n, "call it where the value is needed", "%s is a function and can only be called, as in %s(...)", n.Value, n.Value)
			return
		}
	case *ast.MemberNode:
		s.method(n)
		return
	}
	s.fail(n, methodHint, "methods of values cannot be called in rules, and this is a function value")
}

var timeType = reflect.TypeOf(time.Time{})

func isFunc(t reflect.Type) bool { return t != nil && t.Kind() == reflect.Func }

func isInteger(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// mayNameMethod reports whether name could name a method that reflection
// finds: an exported Go name.
func mayNameMethod(name string) bool {
	r, _ := utf8.DecodeRuneInString(name)
	return unicode.IsUpper(r)
}

// hasMethod reports whether t or *t has a method called name.
func hasMethod(t reflect.Type, name string) bool {
	if _, ok := t.MethodByName(name); ok {
		return true
	}
	_, ok := reflect.PointerTo(t).MethodByName(name)
	return ok
}

// valueTypeName names a Go type as rule authors know it.
func valueTypeName(t reflect.Type) string {
	switch t {
	case timeType:
		return "time"
	case reflect.TypeOf(time.Duration(0)):
		return "duration"
	}
	return ruleTypeName(t.String())
}
