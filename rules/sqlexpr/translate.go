package sqlexpr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/tierflow/tierflow/rules"
)

// Kind is the SQL type of a translated value.
type Kind int

// The kinds of value a rule expression computes, and their PostgreSQL
// types: bigint, float8, text, boolean and timestamptz (a date is the
// timestamptz of its midnight in UTC, as the engine has it).
const (
	Int Kind = iota + 1
	Float
	String
	Bool
	Time
)

func (k Kind) String() string {
	switch k {
	case Int:
		return "integer"
	case Float:
		return "number"
	case String:
		return "string"
	case Bool:
		return "bool"
	case Time:
		return "time"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Column is how a name an expression reads is written in SQL: a fact's
// column, the as-of time's parameter, a segmentation's new segment.
// Nullable says the SQL value can be NULL, which the engine sees as a
// null fact.
type Column struct {
	SQL      string
	Kind     Kind
	Nullable bool
}

// Scope resolves the names an expression reads; ok is false for a name
// the SQL has no column for.
type Scope func(name string) (col Column, ok bool)

// SQL is the translation of one expression (see the package comment for
// the order in which to evaluate its parts).
type SQL struct {
	// Value is the expression's value, of Kind.
	Value string
	Kind  Kind
	// Error is true where the engine reports a rule error.
	Error string
	// Inexact is true where the engine, not PostgreSQL, must evaluate.
	Inexact string
}

// Unsupported says why an expression has no exact translation, and where
// in it the construct is.
type Unsupported struct {
	Field  string    // the expression's field path in the rule file
	Pos    rules.Pos // where the construct is in the file
	Source string    // the expression as written
	Offset int       // the construct's offset in Source, in runes
	Reason string
	expr   *rules.Expr
}

// Error reads as the loader's errors do: position, field, message, and
// the expression with a caret under the construct.
func (u *Unsupported) Error() string {
	msg := "no exact SQL translation: " + u.Reason
	if u.expr != nil {
		return u.expr.DiagnosticAt(u.Offset, msg, "").String()
	}
	return rules.Diagnostic{Pos: u.Pos, Field: u.Field, Message: msg}.String()
}

// Translate translates the compiled expression e, reading names through
// scope, or returns an *Unsupported error.
func Translate(e *rules.Expr, scope Scope) (*SQL, error) {
	if e == nil || e.Program == nil {
		return nil, fmt.Errorf("sqlexpr: no compiled expression")
	}
	t := &translator{scope: scope}
	v, err := t.node(e.Program.Node())
	if err != nil {
		if u, ok := err.(*Unsupported); ok {
			u.Field, u.Pos, u.Source, u.expr = e.Field, e.PosAt(u.Offset), e.Source, e
		}
		return nil, err
	}
	if v.null && castsToBool(e.Program) {
		// A condition's program ends by casting its value to bool, and
		// expr's cast takes a null for false.
		v.v = "COALESCE(" + v.v + ", FALSE)"
	}
	return &SQL{Value: v.v, Kind: v.k, Error: orFalse(v.e), Inexact: orFalse(v.i)}, nil
}

// castsToBool reports whether p ends with expr's cast to bool (what
// expr.AsBool compiles into every condition).
func castsToBool(p *vm.Program) bool {
	n := len(p.Bytecode)
	return n > 0 && p.Bytecode[n-1] == vm.OpCast && p.Arguments[n-1] == 3
}

// Case is the CASE expression that evaluates s in the order the package
// comment gives, yielding inexact, failed, or the value.
func (s *SQL) Case(inexact, failed string) string {
	return "CASE WHEN " + s.Inexact + " THEN " + inexact + " WHEN " + s.Error + " THEN " + failed + " ELSE " + s.Value + " END"
}

type translator struct {
	scope Scope
}

// val is a translated node: v its value, e the condition that it errs
// and i that it is inexact ("" for never), k its kind; null says v can
// be NULL with e false (a nullable fact read as it is).
type val struct {
	v, e, i string
	k       Kind
	null    bool
	// span, for a day count (days_since, days_between), is its two
	// times, from and to: a comparison with a constant compares them.
	span *[2]string
}

func unsupported(n ast.Node, format string, args ...any) error {
	return &Unsupported{Offset: n.Location().From, Reason: fmt.Sprintf(format, args...)}
}

func orFalse(s string) string {
	if s == "" {
		return "FALSE"
	}
	return s
}

// or joins conditions, leaving out the empty ones.
func or(conds ...string) string {
	var parts []string
	for _, c := range conds {
		if c != "" {
			parts = append(parts, "("+c+")")
		}
	}
	return strings.Join(parts, " OR ")
}

// strict is the error condition of an operation on args that errs where
// any of them errs or is null, or where extra holds.
func strict(extra string, args ...val) string {
	conds := make([]string, 0, 2*len(args)+1)
	for _, a := range args {
		conds = append(conds, a.e)
		if a.null {
			conds = append(conds, "("+a.v+") IS NULL")
		}
	}
	return or(append(conds, extra)...)
}

// inexactOf is the inexact condition of an operation on args: any of
// theirs, or extra.
func inexactOf(extra string, args ...val) string {
	conds := make([]string, 0, len(args)+1)
	for _, a := range args {
		conds = append(conds, a.i)
	}
	return or(append(conds, extra)...)
}

func (t *translator) node(n ast.Node) (val, error) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return intLit(n.Value), nil
	case *ast.FloatNode:
		return floatLit(n.Value), nil
	case *ast.StringNode:
		return stringLit(n, n.Value)
	case *ast.BoolNode:
		return boolLit(n.Value), nil
	case *ast.ConstantNode:
		return t.constant(n)
	case *ast.IdentifierNode:
		col, ok := t.scope(n.Value)
		if !ok {
			return val{}, unsupported(n, "%s has no column in the SQL", n.Value)
		}
		return val{v: col.SQL, k: col.Kind, null: col.Nullable}, nil
	case *ast.UnaryNode:
		return t.unary(n)
	case *ast.BinaryNode:
		return t.binary(n)
	case *ast.ConditionalNode:
		return t.conditional(n)
	case *ast.BuiltinNode:
		return t.builtin(n)
	case *ast.CallNode:
		return t.call(n)
	case *ast.NilNode:
		return val{}, unsupported(n, "nil has no SQL translation; test for null with is_null()")
	case *ast.PredicateNode, *ast.PointerNode:
		return val{}, unsupported(n, "list predicates have no SQL translation")
	case *ast.MemberNode, *ast.ChainNode, *ast.SliceNode:
		return val{}, unsupported(n, "member and index access have no SQL translation")
	}
	return val{}, unsupported(n, "%T has no SQL translation", n)
}

func intLit(i int) val {
	return val{v: "(" + strconv.Itoa(i) + ")::bigint", k: Int}
}

func floatLit(f float64) val {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		// Only folding could make one, and only the engine can compare it.
		return val{v: "NULL::float8", i: "TRUE", k: Float}
	}
	return val{v: "'" + strconv.FormatFloat(f, 'g', -1, 64) + "'::float8", k: Float}
}

func boolLit(b bool) val {
	if b {
		return val{v: "TRUE", k: Bool}
	}
	return val{v: "FALSE", k: Bool}
}

// stringLit is the string constant s, which PostgreSQL's text can hold
// unless it has a NUL.
func stringLit(n ast.Node, s string) (val, error) {
	if strings.ContainsRune(s, 0) {
		return val{}, unsupported(n, "PostgreSQL's text cannot hold the NUL character (\\x00) of this string")
	}
	return val{v: quote(s), k: String}, nil
}

// quote is s as a SQL string literal; PostgreSQL's standard strings take
// every byte but the quote as it is.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func (t *translator) constant(n *ast.ConstantNode) (val, error) {
	switch c := n.Value.(type) {
	case int:
		return intLit(c), nil
	case float64:
		return floatLit(c), nil
	case string:
		return stringLit(n, c)
	case bool:
		return boolLit(c), nil
	case time.Time:
		return val{v: quote(c.UTC().Format(time.RFC3339Nano)) + "::timestamptz", k: Time}, nil
	}
	return val{}, unsupported(n, "a constant of type %T has no SQL translation", n.Value)
}
