package jobs

import (
	"time"

	"github.com/tierflow/tierflow/rules"
)

// txFact is one fact derived from transactions, as the streaming
// aggregation computes it.
type txFact struct {
	d *rules.Derivation
	// cats is d.Categories as a set; nil keeps every category.
	cats map[string]bool
}

func newTxFacts(rs *rules.RuleSet) []txFact {
	var out []txFact
	for _, df := range rs.Derived() {
		d := df.Field.Derived
		if d.Kind != rules.DerivedTransactions {
			continue
		}
		f := txFact{d: d}
		if d.Categories != nil {
			f.cats = map[string]bool{}
			for _, c := range d.Categories {
				f.cats[c] = true
			}
		}
		out = append(out, f)
	}
	return out
}

// txRow is one transaction as the aggregation reads it.
type txRow struct {
	at             time.Time
	amount, qty    float64
	hasAmt, hasQty bool
	cat            string
	hasCat         bool
}

// value is the column the fact reads; ok is false when it is null.
func (f *txFact) value(t *txRow) (float64, bool) {
	switch f.d.Column {
	case rules.TxAmount:
		return t.amount, t.hasAmt
	case rules.TxQuantity:
		return t.qty, t.hasQty
	}
	return 0, false
}

// keeps reports whether the transaction is in the fact's window and
// category filter at asOf.
func (f *txFact) keeps(asOf time.Time, t *txRow) bool {
	if !f.d.Window.Contains(asOf, t.at) {
		return false
	}
	return f.cats == nil || (t.hasCat && f.cats[t.cat])
}

// txAcc accumulates one fact over one customer's transactions: what SQL's
// COUNT(*), COUNT, SUM, MIN and MAX of the filtered rows give.
type txAcc struct {
	rows       int64 // transactions in the window
	vals       int64 // of them, with a value in the column
	sum        float64
	lo, hi     float64
	first, end time.Time
}

func (a *txAcc) add(t *txRow, v float64, hasV bool) {
	if a.rows == 0 || t.at.Before(a.first) {
		a.first = t.at
	}
	if a.rows == 0 || t.at.After(a.end) {
		a.end = t.at
	}
	a.rows++
	if !hasV {
		return
	}
	if a.vals == 0 || v < a.lo {
		a.lo = v
	}
	if a.vals == 0 || v > a.hi {
		a.hi = v
	}
	a.vals++
	a.sum += v
}

// result is the fact's value from the accumulator, as DerivedValue
// defines it.
func (a *txAcc) result(fn string) any {
	switch fn {
	case "sum":
		return a.sum + 0 // -0 is 0
	case "count":
		return int(a.rows)
	case "min", "max", "avg":
		return a.valueOf(fn)
	case "first":
		if a.rows > 0 {
			return a.first
		}
	case "last":
		if a.rows > 0 {
			return a.end
		}
	case "days_between_orders":
		return MeanDaysBetween(a.first, a.end, a.rows)
	}
	return nil
}

// valueOf is min, max or avg of the values, nil when there are none.
func (a *txAcc) valueOf(fn string) any {
	switch {
	case a.vals == 0:
		return nil
	case fn == "min":
		return a.lo
	case fn == "max":
		return a.hi
	}
	return a.sum / float64(a.vals)
}

// MeanDaysBetween is days_between_orders: the mean gap between
// consecutive transactions, (last − first) / (n − 1), in days of 24
// hours; nil (null) for fewer than two transactions. SQL stores that
// aggregate derived facts in the database compute it with this too.
func MeanDaysBetween(first, last time.Time, n int64) any {
	if n < 2 {
		return nil
	}
	return last.Sub(first).Seconds() / 86400 / float64(n-1)
}

// EmptyDerived is the value of a fact derived from transactions for a
// customer with none in its window: 0 for sum and count, null for the
// others.
func EmptyDerived(d *rules.Derivation) any {
	switch d.Func {
	case "sum":
		return float64(0)
	case "count":
		return 0
	}
	return nil
}

// txGroup aggregates one customer's transactions into every fact.
type txGroup struct {
	facts []txFact
	accs  []txAcc
	asOf  time.Time
}

func newTxGroup(facts []txFact, asOf time.Time) *txGroup {
	return &txGroup{facts: facts, accs: make([]txAcc, len(facts)), asOf: asOf}
}

func (g *txGroup) reset() { clear(g.accs) }

func (g *txGroup) add(t *txRow) {
	for i := range g.facts {
		f := &g.facts[i]
		if f.keeps(g.asOf, t) {
			v, ok := f.value(t)
			g.accs[i].add(t, v, ok)
		}
	}
}

// values appends the facts' values to out.
func (g *txGroup) values(out []any) []any {
	for i := range g.facts {
		out = append(out, g.accs[i].result(g.facts[i].d.Func))
	}
	return out
}
