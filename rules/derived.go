package rules

import (
	"fmt"
	"time"
)

// DerivedKind says what tierflow computes a derived fact from.
type DerivedKind int

// The kinds of derived facts (`derived:` in a rule file).
const (
	// DerivedTransactions facts aggregate the customer's own transactions
	// (sum, count, min, max, avg, first, last, days_between_orders).
	DerivedTransactions DerivedKind = iota + 1
	// DerivedPopulation facts place the customer in the run's whole
	// population (pct_rank, cume_dist, ntile, rfm, abc).
	DerivedPopulation
	// DerivedPredicted facts come from a model fitted at each run on every
	// customer's transactions (p_alive, expected_purchases,
	// expected_spend).
	DerivedPredicted
)

// String names the kind as explain and the docs do: "derived",
// "population" or "predicted".
func (k DerivedKind) String() string {
	switch k {
	case DerivedTransactions:
		return "derived"
	case DerivedPopulation:
		return "population"
	case DerivedPredicted:
		return "predicted"
	}
	return fmt.Sprintf("DerivedKind(%d)", int(k))
}

// TxColumn is a numeric column of the transactions source that an
// aggregate reads.
type TxColumn int

// The columns sum, min, max and avg can read.
const (
	TxNone     TxColumn = iota // count, first, last, days_between_orders read no column
	TxAmount                   // the transaction's amount
	TxQuantity                 // its quantity (transactions: {quantity: ...})
)

// String names the column as a derivation writes it.
func (c TxColumn) String() string {
	switch c {
	case TxAmount:
		return "amount"
	case TxQuantity:
		return "quantity"
	}
	return ""
}

// RFMPart is which value of an rfm(...) declaration a fact holds: the
// code ("555") or one of the three scores.
type RFMPart int

// The facts one `NAME: rfm(...)` declares: NAME (the code), NAME_r,
// NAME_f and NAME_m.
const (
	RFMCode RFMPart = iota + 1
	RFMRecency
	RFMFrequency
	RFMMonetary
)

// Derivation is how tierflow computes one derived fact for a run, at the
// run's as-of time, before any rule is evaluated. Compile fills it from
// the rule file's `derived:` section; the fact itself is an ordinary
// Field of the schema (Field.Derived points here), so rules, tests and
// explain read it like any other fact.
type Derivation struct {
	Kind DerivedKind
	// Func is the function as written: sum, count, min, max, avg, first,
	// last, days_between_orders; pct_rank, cume_dist, ntile, rfm, abc;
	// p_alive, expected_purchases, expected_spend.
	Func string
	// Column is the transactions column sum, min, max and avg read.
	Column TxColumn
	// Window is the span of transactions an aggregate reads.
	Window Window
	// Categories keeps only the transactions whose category is one of
	// them (`category = "books"`, `category in ["books", "music"]`); nil
	// keeps all.
	Categories []string
	// Inputs are the facts a population fact reads: one for pct_rank,
	// ntile and abc; recency, frequency and monetary value for rfm.
	Inputs []string
	// Bins is the number of bins of ntile and of each rfm score.
	Bins int
	// Cuts are abc's cumulative shares, each in (0, 1] and increasing.
	Cuts []float64
	// Part is which value of an rfm declaration the fact holds; Group is
	// the name of that declaration (the code's fact), shared by its four
	// facts.
	Part  RFMPart
	Group string
	// Horizon is expected_purchases' span: purchases in the next Horizon.
	Horizon time.Duration
	// Source is the declaration as written, `sum(amount, last 365d)`,
	// which explain shows.
	Source string
	// Transactions names the columns of the transactions source; the same
	// value for every derived fact of a rule set.
	Transactions *Transactions
}

// Transactions names the columns of a rule set's transactions source
// (`transactions:` in the rule file); the source itself is bound in
// tierflow.yaml. Quantity and Category are "" when not declared.
type Transactions struct {
	Key, Time, Amount, Quantity, Category string
	Pos                                   Pos
}

// Window is the span of a transaction aggregate, before the run's as-of
// time: it holds the transactions at t with asOf−To < t <= asOf−From. To
// zero means no lower bound: every transaction up to asOf−From. A
// transaction after the as-of is never in any window.
type Window struct {
	From, To time.Duration
}

// Bounded reports whether the window has a lower bound.
func (w Window) Bounded() bool { return w.To > 0 }

// Bounds returns the window's ends for a run at asOf: it holds the
// instants t with after < t <= until (after is zero when the window has
// no lower bound).
func (w Window) Bounds(asOf time.Time) (after, until time.Time) {
	until = asOf.Add(-w.From)
	if w.Bounded() {
		after = asOf.Add(-w.To)
	}
	return after, until
}

// Contains reports whether an instant t is in the window of a run at
// asOf.
func (w Window) Contains(asOf, t time.Time) bool {
	after, until := w.Bounds(asOf)
	if t.After(until) {
		return false
	}
	return !w.Bounded() || t.After(after)
}

// String writes the window as a rule file does: "last 365d",
// "365d..730d before", or "" for every transaction up to the as-of.
func (w Window) String() string {
	switch {
	case !w.Bounded() && w.From == 0:
		return ""
	case !w.Bounded():
		return "before " + FormatDuration(w.From)
	case w.From == 0:
		return "last " + FormatDuration(w.To)
	}
	return FormatDuration(w.From) + ".." + FormatDuration(w.To) + " before"
}

// DerivedFact is one derived fact of a rule set: its field, and its place
// in the schema (engine rows hold its value there).
type DerivedFact struct {
	Field Field
	Index int
}

// Derived returns the rule set's derived facts in schema order, or nil
// when it has none. The compiler puts them after every declared fact; a
// rule set merged from two (a preview's union) may mix them.
func (rs *RuleSet) Derived() []DerivedFact {
	if rs == nil || rs.Facts == nil {
		return nil
	}
	var out []DerivedFact
	for i, f := range rs.Facts.Fields {
		if f.Derived != nil {
			out = append(out, DerivedFact{Field: f, Index: i})
		}
	}
	return out
}

// HasDerived reports whether the rule set has derived facts.
func (rs *RuleSet) HasDerived() bool { return len(rs.Derived()) > 0 }

// TransactionColumns returns the columns of the rule set's transactions
// source, or nil when no derived fact reads transactions.
func (rs *RuleSet) TransactionColumns() *Transactions {
	for _, d := range rs.Derived() {
		if k := d.Field.Derived.Kind; k == DerivedTransactions || k == DerivedPredicted {
			return d.Field.Derived.Transactions
		}
	}
	return nil
}

// WithoutDerived returns a copy of the rule set whose schema holds only
// its declared facts, the shape its facts sources read, and the places
// of those facts in rs's schema. It returns rs itself and nil when there
// are no derived facts.
func (rs *RuleSet) WithoutDerived() (*RuleSet, []int) {
	if !rs.HasDerived() {
		return rs, nil
	}
	var fields []Field
	var at []int
	for i, f := range rs.Facts.Fields {
		if f.Derived == nil {
			fields = append(fields, f)
			at = append(at, i)
		}
	}
	schema, err := NewSchema(fields)
	if err != nil { // a subset of a valid schema
		return rs, nil
	}
	cp := *rs
	cp.Facts = schema
	cp.Fast = nil
	return &cp, at
}
