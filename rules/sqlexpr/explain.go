package sqlexpr

import (
	"errors"
	"strconv"

	"github.com/tierflow/tierflow/rules"
)

// Expression is one expression of a rule set with its translation, or
// the reason it has none.
type Expression struct {
	Expr *rules.Expr
	SQL  *SQL         // nil when Err is set
	Err  *Unsupported // nil when SQL is set
}

// RuleSetScope is the scope in which a rule set's expressions run in
// SQL: each fact is the column of its name in the source row src, the
// as-of time is $1 and the as-of date (its day in the rule set's zone,
// at 00:00 UTC) $2, both timestamptz, and a segmentation's state
// variables (segment.X, previous.X, rank.X and the others of
// rules.VarsFor) are the columns of those names in the row st.
func RuleSetScope(rs *rules.RuleSet) Scope {
	cols := map[string]Column{
		rules.AsOfVar:     {SQL: "$1::timestamptz", Kind: Time},
		rules.AsOfDateVar: {SQL: "$2::timestamptz", Kind: Time},
	}
	for _, f := range rs.Facts.Fields {
		cols[f.Name] = Column{SQL: "src." + strconv.Quote(f.Name), Kind: FactKind(f.Type), Nullable: f.Nullable}
	}
	for _, s := range rs.Segmentations {
		v := rules.VarsFor(s.Name)
		for name, k := range map[string]Kind{v.Segment: String, v.Previous: String, v.Rank: Int, v.PreviousRank: Int,
			v.DaysIn: Int, v.DaysInPrevious: Int, v.Overdue: Bool, v.DaysSinceCovered: Int} {
			cols[name] = Column{SQL: "st." + strconv.Quote(name), Kind: k}
		}
	}
	return func(name string) (Column, bool) {
		c, ok := cols[name]
		return c, ok
	}
}

// FactKind is the kind of a fact of type t as SQL reads it (a date is
// the timestamptz of its midnight in UTC).
func FactKind(t rules.Type) Kind {
	switch t {
	case rules.TypeNumber:
		return Float
	case rules.TypeInteger:
		return Int
	case rules.TypeString:
		return String
	case rules.TypeBool:
		return Bool
	}
	return Time
}

// Explain translates every expression of rs in RuleSetScope: the
// segments' conditions in order, then each action's condition and
// payload expressions.
func Explain(rs *rules.RuleSet) []Expression {
	scope := RuleSetScope(rs)
	var out []Expression
	add := func(e *rules.Expr) {
		if e == nil || e.Program == nil {
			return
		}
		x := Expression{Expr: e}
		sql, err := Translate(e, scope)
		var u *Unsupported
		switch {
		case err == nil:
			x.SQL = sql
		case errors.As(err, &u):
			x.Err = u
		default:
			x.Err = &Unsupported{Field: e.Field, Pos: e.Pos, Source: e.Source, Reason: err.Error()}
		}
		out = append(out, x)
	}
	for _, s := range rs.Segmentations {
		for _, seg := range s.Segments {
			add(seg.When)
		}
	}
	for _, a := range rs.Actions {
		add(a.When)
		for _, p := range a.Payload {
			add(p.Expr)
		}
	}
	return out
}

// Translated counts the expressions of xs that have a translation.
func Translated(xs []Expression) int {
	n := 0
	for _, x := range xs {
		if x.SQL != nil {
			n++
		}
	}
	return n
}
