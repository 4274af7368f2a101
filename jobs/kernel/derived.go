package kernel

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// DerivedSQL is what a dialect supplies to compute a rule set's facts
// derived from transactions in one aggregate query on the state
// database (QuerySource.AggregateDerived): Dialect.Derived.
type DerivedSQL struct {
	// Time reads column expr as an instant that compares with TimeArg's
	// values: NULL for a null or a value that is no time.
	Time func(expr string) string
	// TimeArg binds an instant to compare with Time's values.
	TimeArg func(t time.Time) any
	// ScanTime converts what MIN and MAX of Time return.
	ScanTime func(v any) (time.Time, error)
	// Number reads column expr as a number: NULL for a null and, where
	// the database keeps any value in any column (SQLite), for a value
	// that is no number.
	Number func(expr string) string
	// Text reads column expr as text, for the category filter.
	Text func(expr string) string
}

var _ jobs.DerivedAggregator = (*QuerySource)(nil)

// AggregateDerived implements jobs.DerivedAggregator for a source on the
// state database: one query, grouped by the customer key, with each
// fact's window and category filter as a FILTER clause whose bounds are
// computed from asOf and bound as parameters (the database's clock is
// never read). On another database it returns ok false.
func (q *QuerySource) AggregateDerived(ctx context.Context, rs *rules.RuleSet, asOf time.Time) (jobs.FactsReader, bool, error) {
	ds := q.d.Derived
	if q.owner == nil || ds == nil {
		return nil, false, nil
	}
	src, err := q.SQL()
	if err != nil {
		return nil, true, q.wrap(rs, err)
	}
	query, args, facts := DerivedQuery(q.d, ds, rs, src, asOf)
	tx, err := q.d.BeginRead(ctx, q.db)
	if err != nil {
		return nil, true, q.wrap(rs, err)
	}
	return &derivedReader{q: q, ds: ds, rs: rs, tx: tx, query: query, args: args, facts: facts}, true, nil
}

// derivedArgs numbers a query's parameters, binding equal values once.
type derivedArgs struct {
	ds    *DerivedSQL
	args  []any
	times map[time.Time]string
}

func (a *derivedArgs) time(t time.Time) string {
	if p, ok := a.times[t]; ok {
		return p
	}
	a.args = append(a.args, a.ds.TimeArg(t))
	p := "$" + strconv.Itoa(len(a.args))
	a.times[t] = p
	return p
}

func (a *derivedArgs) text(s string) string {
	a.args = append(a.args, s)
	return "$" + strconv.Itoa(len(a.args))
}

// DerivedQuery is AggregateDerived's SQL on source query src and its
// arguments, with the derivations of its columns in order: after the
// key, one column per fact (three for days_between_orders: its first and
// last time and its count), then the number of transactions whose time
// or number is unreadable.
func DerivedQuery(d *Dialect, ds *DerivedSQL, rs *rules.RuleSet, src string, asOf time.Time) (string, []any, []*rules.Derivation) {
	tx := rs.TransactionColumns()
	a := &derivedArgs{ds: ds, times: map[time.Time]string{}}
	inner := []string{
		d.KeyText("src."+QuoteIdent(tx.Key)) + " AS k",
		ds.Time("src."+QuoteIdent(tx.Time)) + " AS t",
		ds.Number("src."+QuoteIdent(tx.Amount)) + " AS a",
		"src." + QuoteIdent(tx.Amount) + " AS a_raw",
	}
	if tx.Quantity != "" {
		inner = append(inner, ds.Number("src."+QuoteIdent(tx.Quantity))+" AS q", "src."+QuoteIdent(tx.Quantity)+" AS q_raw")
	}
	if tx.Category != "" {
		inner = append(inner, ds.Text("src."+QuoteIdent(tx.Category))+" AS c")
	}
	sel := []string{"x.k"}
	var facts []*rules.Derivation
	for _, df := range rs.Derived() {
		if dv := df.Field.Derived; dv.Kind == rules.DerivedTransactions {
			sel = append(sel, aggregateSQL(dv, derivedCond(dv, a, asOf))...)
			facts = append(facts, dv)
		}
	}
	bad := "x.t IS NULL OR (x.a IS NULL AND x.a_raw IS NOT NULL)"
	if tx.Quantity != "" {
		bad += " OR (x.q IS NULL AND x.q_raw IS NOT NULL)"
	}
	sel = append(sel, "COUNT(*) FILTER (WHERE "+bad+")")
	until := a.time(asOf)
	return fmt.Sprintf("SELECT %s\nFROM (SELECT %s FROM (%s) AS src WHERE src.%s IS NOT NULL) AS x\nWHERE x.t IS NULL OR x.t <= %s\nGROUP BY x.k\nORDER BY %s",
		strings.Join(sel, ", "), strings.Join(inner, ", "), src, QuoteIdent(tx.Key), until, d.ByteOrder("x.k")), a.args, facts
}

// derivedCond is the FILTER condition of one fact: its window and
// category filter.
func derivedCond(dv *rules.Derivation, a *derivedArgs, asOf time.Time) string {
	after, until := dv.Window.Bounds(asOf)
	cond := []string{"x.t <= " + a.time(until)}
	if dv.Window.Bounded() {
		cond = append(cond, "x.t > "+a.time(after))
	}
	if dv.Categories != nil {
		ps := make([]string, len(dv.Categories))
		for i, c := range dv.Categories {
			ps[i] = a.text(c)
		}
		cond = append(cond, "x.c IN ("+strings.Join(ps, ", ")+")")
	}
	return strings.Join(cond, " AND ")
}

// aggregateSQL is the select list of one fact under condition cond.
func aggregateSQL(dv *rules.Derivation, cond string) []string {
	col := "x.a"
	if dv.Column == rules.TxQuantity {
		col = "x.q"
	}
	f := " FILTER (WHERE " + cond + ")"
	switch dv.Func {
	case "count":
		return []string{"COUNT(*)" + f}
	case "first":
		return []string{"MIN(x.t)" + f}
	case "last":
		return []string{"MAX(x.t)" + f}
	case "days_between_orders":
		return []string{"MIN(x.t)" + f, "MAX(x.t)" + f, "COUNT(*)" + f}
	}
	return []string{strings.ToUpper(dv.Func) + "(" + col + ")" + f}
}
