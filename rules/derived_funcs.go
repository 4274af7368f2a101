package rules

import (
	"fmt"
	"time"
)

// Limits on derived facts, so that an untrusted rule file cannot make a
// run's derivation pass arbitrarily expensive.
const (
	// MaxDerived bounds the declarations under derived: (an rfm
	// declaration counts once, though it makes four facts).
	MaxDerived = 64
	// MaxCategories bounds one category filter's list.
	MaxCategories = 32
	// MaxNtileBins bounds ntile's bins; MaxRFMBins each rfm score's.
	MaxNtileBins = 100
	MaxRFMBins   = 9
	// MaxABCCuts bounds abc's cuts (at most 26 classes, A to Z).
	MaxABCCuts = 25
	// MaxHorizon bounds expected_purchases' horizon.
	MaxHorizon = 10 * 366 * 24 * time.Hour
)

// derivedFunc is one function a derived fact can call.
type derivedFunc struct {
	kind DerivedKind
	// column: sum, min, max and avg read a column first.
	column bool
	// window: the transaction aggregates take a window and a filter.
	window bool
	// typ and nullable are the fact's type, for the transaction and
	// predicted functions; population functions decide by their input.
	typ      Type
	nullable bool
	usage    string
}

var derivedFuncs = map[string]derivedFunc{
	"sum":                 {kind: DerivedTransactions, column: true, window: true, typ: TypeNumber, usage: "sum(amount, last 365d)"},
	"count":               {kind: DerivedTransactions, window: true, typ: TypeInteger, usage: "count(last 365d)"},
	"min":                 {kind: DerivedTransactions, column: true, window: true, typ: TypeNumber, nullable: true, usage: "min(amount, last 365d)"},
	"max":                 {kind: DerivedTransactions, column: true, window: true, typ: TypeNumber, nullable: true, usage: "max(amount, last 365d)"},
	"avg":                 {kind: DerivedTransactions, column: true, window: true, typ: TypeNumber, nullable: true, usage: "avg(amount, last 365d)"},
	"first":               {kind: DerivedTransactions, window: true, typ: TypeTime, nullable: true, usage: "first()"},
	"last":                {kind: DerivedTransactions, window: true, typ: TypeTime, nullable: true, usage: "last()"},
	"days_between_orders": {kind: DerivedTransactions, window: true, typ: TypeNumber, nullable: true, usage: "days_between_orders(last 730d)"},
	"pct_rank":            {kind: DerivedPopulation, typ: TypeNumber, usage: "pct_rank(spend_12m)"},
	"cume_dist":           {kind: DerivedPopulation, typ: TypeNumber, usage: "cume_dist(spend_12m)"},
	"ntile":               {kind: DerivedPopulation, typ: TypeInteger, usage: "ntile(spend_12m, 5)"},
	"rfm":                 {kind: DerivedPopulation, typ: TypeString, usage: "rfm(last_order_at, orders_12m, spend_12m)"},
	"abc":                 {kind: DerivedPopulation, typ: TypeString, usage: "abc(spend_12m, [0.8, 0.95])"},
	"p_alive":             {kind: DerivedPredicted, typ: TypeNumber, nullable: true, usage: "p_alive()"},
	"expected_purchases":  {kind: DerivedPredicted, typ: TypeNumber, nullable: true, usage: "expected_purchases(90d)"},
	"expected_spend":      {kind: DerivedPredicted, typ: TypeNumber, nullable: true, usage: "expected_spend()"},
}

// derivedFuncNames lists the functions, for hints.
func derivedFuncNames() []string {
	out := make([]string, 0, len(derivedFuncs))
	for name := range derivedFuncs {
		out = append(out, name)
	}
	return out
}

// derivedDecl is one declaration being checked: the call, what the rest
// of the rule file offers it, and where to report.
type derivedDecl struct {
	call *dcall
	fn   derivedFunc
	tx   *Transactions
	// lookup finds a fact a population function reads: a declared fact
	// or a derived one declared before it.
	lookup func(name string) (Field, bool)
	names  []string // the facts lookup knows, for hints
}

// transactionArgs checks the arguments of sum, count, min, max, avg,
// first, last and days_between_orders: an optional column first (which
// sum, min, max and avg require), then at most one window and one
// category filter.
func (d *derivedDecl) transactionArgs(out *Derivation) *derivedError {
	args := d.call.args
	if d.fn.column {
		if len(args) == 0 || args[0].kind != argName {
			return errAt(d.argOff(0), "name the column it reads: "+d.fn.usage, "%s needs a column: amount, or quantity", d.call.name)
		}
		col, err := d.column(args[0])
		if err != nil {
			return err
		}
		out.Column, args = col, args[1:]
	}
	var window, filter bool
	for _, a := range args {
		switch {
		case a.kind == argWindow && !window:
			out.Window, window = a.window, true
		case a.kind == argFilter && !filter:
			if err := d.categories(a); err != nil {
				return err
			}
			out.Categories, filter = a.cats, true
		case a.kind == argName && !d.fn.column && (a.name == "amount" || a.name == "quantity"):
			return errAt(a.off, fmt.Sprintf("write %s(last 365d)", d.call.name), "%s reads no column", d.call.name)
		default:
			return errAt(a.off, "after the column come an optional window (last 365d, 365d..730d before) and an optional filter (category = \"books\"); e.g. "+d.fn.usage,
				"unexpected %s in %s", argKindNames[a.kind], d.call.name)
		}
	}
	return nil
}

// column resolves a column name.
func (d *derivedDecl) column(a darg) (TxColumn, *derivedError) {
	switch a.name {
	case "amount":
		return TxAmount, nil
	case "quantity":
		if d.tx.Quantity == "" {
			return 0, errAt(a.off, "name the quantity column under transactions:, e.g. transactions: {quantity: qty}", "the transactions source has no quantity column")
		}
		return TxQuantity, nil
	}
	return 0, errAt(a.off, nearOrOneOf(a.name, []string{"amount", "quantity"}), "unknown column %q", a.name)
}

func (d *derivedDecl) categories(a darg) *derivedError {
	switch {
	case d.tx.Category == "":
		return errAt(a.off, "name the category column under transactions:, e.g. transactions: {category: category}", "the transactions source has no category column")
	case len(a.cats) == 0:
		return errAt(a.off, "list at least one category", "empty category list")
	case len(a.cats) > MaxCategories:
		return errAt(a.off, "", "%d categories; the limit is %d", len(a.cats), MaxCategories)
	}
	return nil
}

// argOff is where argument i is, or the call's end when it is missing.
func (d *derivedDecl) argOff(i int) int {
	if i < len(d.call.args) {
		return d.call.args[i].off
	}
	return d.call.off + len([]rune(d.call.name))
}

// arity checks the number of arguments.
func (d *derivedDecl) arity(lo, hi int) *derivedError {
	n := len(d.call.args)
	if n >= lo && n <= hi {
		return nil
	}
	off := d.argOff(hi)
	if n < lo {
		off = d.argOff(n)
	}
	want := fmt.Sprintf("%d arguments", lo)
	switch {
	case hi > lo:
		want = fmt.Sprintf("%d to %d arguments", lo, hi)
	case lo == 0:
		want = "no arguments"
	case lo == 1:
		want = "1 argument"
	}
	return errAt(off, "write "+d.fn.usage, "%s takes %s, not %d", d.call.name, want, n)
}

// predictedArgs checks p_alive(), expected_purchases(90d) and
// expected_spend().
func (d *derivedDecl) predictedArgs(out *Derivation) *derivedError {
	if d.call.name != "expected_purchases" {
		return d.arity(0, 0)
	}
	if err := d.arity(1, 1); err != nil {
		return err
	}
	a := d.call.args[0]
	switch {
	case a.kind != argDuration:
		return errAt(a.off, "write expected_purchases(90d): the purchases expected in the next 90 days", "expected a duration, found %s", argKindNames[a.kind])
	case a.duration <= 0:
		return errAt(a.off, "the horizon is longer than 0", "empty horizon")
	case a.duration > MaxHorizon:
		return errAt(a.off, "", "the horizon is longer than ten years")
	}
	out.Horizon = a.duration
	return nil
}
