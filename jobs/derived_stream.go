package jobs

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/predict"
	"github.com/tierflow/tierflow/rules"
)

// TransactionsRuleSet is the shape a rule set's transactions source is
// read in, as any facts source reads a rule set: its key is the
// transactions' customer key column, and its facts are the time (a time,
// not null), amount (a number, null allowed) and, when the rule file
// names them, quantity (a number) and category (text) columns, in that
// order. So a SQL query or table, on any database, or CSV and JSON Lines
// files serve as transactions sources as they are.
func TransactionsRuleSet(rs *rules.RuleSet) *rules.RuleSet {
	tx := rs.TransactionColumns()
	if tx == nil {
		return nil
	}
	fields := []rules.Field{
		{Name: tx.Time, Type: rules.TypeTime},
		{Name: tx.Amount, Type: rules.TypeNumber, Nullable: true},
	}
	if tx.Quantity != "" {
		fields = append(fields, rules.Field{Name: tx.Quantity, Type: rules.TypeNumber, Nullable: true})
	}
	if tx.Category != "" {
		fields = append(fields, rules.Field{Name: tx.Category, Type: rules.TypeString, Nullable: true})
	}
	schema, err := rules.NewSchema(fields)
	if err != nil { // column names the rule file validated
		return nil
	}
	return &rules.RuleSet{Name: rs.Name + " (transactions)", Key: tx.Key, Facts: schema, Timezone: rs.Timezone, Location: rs.Location, File: rs.File, Hash: rs.Hash}
}

// maxTxErrors bounds the transaction errors one customer's row carries.
const maxTxErrors = 5

// summaryWidth is the number of values a derived row carries for the
// predicted facts after its transaction facts: x, t_x, T, and the spend's
// x and mean, each nil when the customer made no purchase by the as-of.
const summaryWidth = 5

// derivedLayout says what a derived row holds: the values of the facts
// derived from transactions, in schema order, then, when the rule set has
// predicted facts, the customer's summary.
type derivedLayout struct {
	tx      []txFact
	predict bool
	cal     predict.Calibration
	// errFact is the fact a transaction's error is reported on: the first
	// derived one.
	errFact string
}

func newDerivedLayout(rs *rules.RuleSet, asOf time.Time) *derivedLayout {
	l := &derivedLayout{tx: newTxFacts(rs), cal: predict.Calibration{End: asOf, Unit: predict.Weeks, Location: rs.Zone()}}
	for _, d := range rs.Derived() {
		if l.errFact == "" {
			l.errFact = d.Field.Name
		}
		l.predict = l.predict || d.Field.Derived.Kind == rules.DerivedPredicted
	}
	return l
}

// width is the length of a derived row's Facts.
func (l *derivedLayout) width() int {
	if l.predict {
		return len(l.tx) + summaryWidth
	}
	return len(l.tx)
}

// empty is the row of a customer without transactions.
func (l *derivedLayout) empty() []any {
	out := make([]any, l.width())
	for i, f := range l.tx {
		out[i] = EmptyDerived(f.d)
	}
	return out
}

// txAggIter aggregates a stream of transactions in key order (rows of
// TransactionsRuleSet) into one derived row per key. It holds one
// customer's accumulators at a time, and, for predicted facts, that
// customer's transactions (16 bytes each), which it sorts by time.
type txAggIter struct {
	in     custIter
	l      *derivedLayout
	aggTx  bool // compute the transaction facts (false: the summary only)
	g      *txGroup
	sum    *predict.Summarizer
	buf    []predict.Transaction
	head   *engine.Customer
	ended  bool
	hasQty bool
	err    error
}

func newTxAggIter(in custIter, l *derivedLayout, aggTx bool, tx *rules.Transactions) *txAggIter {
	it := &txAggIter{in: in, l: l, aggTx: aggTx, hasQty: tx.Quantity != ""}
	if aggTx {
		it.g = newTxGroup(l.tx, l.cal.End)
	}
	if l.predict {
		it.sum = predict.NewSummarizer(l.cal)
	}
	return it
}

func (it *txAggIter) Err() error {
	if it.err != nil {
		return it.err
	}
	return it.in.Err()
}

func (it *txAggIter) close() { it.in.close() }

// next returns the next customer's derived row, or nil at the end.
func (it *txAggIter) next() *engine.Customer {
	if it.head == nil && !it.ended {
		it.head = it.in.next()
	}
	if it.head == nil || it.err != nil {
		it.ended = true
		return nil
	}
	key := it.head.Key
	out := &engine.Customer{Key: key}
	if it.g != nil {
		it.g.reset()
	}
	it.buf = it.buf[:0]
	for it.head != nil && it.head.Key == key {
		it.add(out, it.head)
		it.head = it.in.next()
	}
	if it.head == nil {
		it.ended = true
	}
	out.Facts = it.row(key)
	return out
}

// add folds one transaction into the current customer.
func (it *txAggIter) add(out *engine.Customer, c *engine.Customer) {
	for _, fe := range c.FactErrors {
		if len(out.FactErrors) < maxTxErrors {
			out.FactErrors = append(out.FactErrors, engine.FactError{Fact: it.l.errFact, Err: fmt.Errorf("transaction: %w", fe.Err)})
		}
	}
	t, ok := txRowOf(c, it.hasQty)
	if !ok || t.at.After(it.l.cal.End) {
		return // no time: the error says why; after the as-of: not yet
	}
	if it.g != nil {
		it.g.add(&t)
	}
	if it.sum != nil {
		it.buf = append(it.buf, predict.Transaction{Time: t.at, Amount: t.amount})
	}
}

// txRowOf reads a row of TransactionsRuleSet; ok is false when it has no
// time.
func txRowOf(c *engine.Customer, hasQty bool) (txRow, bool) {
	var t txRow
	f := c.Facts
	at, ok := f[0].(time.Time)
	if !ok {
		return t, false
	}
	t.at = at
	t.amount, t.hasAmt = asFloat(f, 1)
	next := 2
	if hasQty {
		t.qty, t.hasQty = asFloat(f, 2)
		next = 3
	}
	if next < len(f) {
		t.cat, t.hasCat = f[next].(string)
	}
	return t, true
}

func asFloat(f []any, i int) (float64, bool) {
	if i >= len(f) {
		return 0, false
	}
	v, ok := f[i].(float64)
	return v, ok
}

// row returns the derived row of customer key, the current one.
func (it *txAggIter) row(key string) []any {
	out := make([]any, 0, it.l.width())
	if it.g != nil {
		out = it.g.values(out)
	}
	if !it.l.predict {
		return out
	}
	return append(out, it.summary(key)...)
}

// summary returns the current customer's BG/NBD and Gamma-Gamma inputs.
func (it *txAggIter) summary(key string) []any {
	none := make([]any, summaryWidth)
	slices.SortStableFunc(it.buf, func(a, b predict.Transaction) int { return a.Time.Compare(b.Time) })
	it.sum.Reset()
	for _, t := range it.buf {
		if err := it.sum.Add(t.Time, t.Amount); err != nil {
			it.err = fmt.Errorf("summarise the transactions of customer %s: %w", key, err)
			return none
		}
	}
	s, sp, err := it.sum.Result()
	if err != nil {
		return none // no purchase by the as-of
	}
	return []any{s.X, s.Tx, s.T, sp.X, sp.Mean}
}

// zipDerived joins two streams of derived rows in key order, one holding
// the transaction facts (SQL's aggregate) and one the summaries, into
// rows of the full layout. A key only one side has gets the other side's
// empty values.
type zipDerived struct {
	a, b   custIter
	ha, hb *engine.Customer
	l      *derivedLayout
	primed bool
}

func (z *zipDerived) next() *engine.Customer {
	if !z.primed {
		z.ha, z.hb, z.primed = z.a.next(), z.b.next(), true
	}
	if z.ha == nil && z.hb == nil {
		return nil
	}
	empty := z.l.empty()
	out := &engine.Customer{}
	c := 0
	switch {
	case z.ha == nil:
		c = 1
	case z.hb == nil:
		c = -1
	default:
		c = cmp.Compare(z.ha.Key, z.hb.Key)
	}
	n := len(z.l.tx)
	out.Facts = empty
	if c <= 0 {
		out.Key = z.ha.Key
		copy(out.Facts[:n], z.ha.Facts)
		out.FactErrors = append(out.FactErrors, z.ha.FactErrors...)
		z.ha = z.a.next()
	}
	if c >= 0 {
		out.Key = z.hb.Key
		copy(out.Facts[n:], z.hb.Facts)
		out.FactErrors = append(out.FactErrors, z.hb.FactErrors...)
		z.hb = z.b.next()
	}
	return out
}

func (z *zipDerived) Err() error {
	if err := z.a.Err(); err != nil {
		return err
	}
	return z.b.Err()
}

func (z *zipDerived) close() {
	z.a.close()
	z.b.close()
}
