package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// deriver computes one run's derived facts: it opens the derived rows,
// runs the first pass when population or predicted facts need one, and
// fills each customer's derived facts.
type deriver struct {
	rs   *rules.RuleSet
	base *rules.RuleSet
	// declAt holds the places of base's facts in rs's schema.
	declAt []int
	ss     Sources
	asOf   time.Time
	l      *derivedLayout
	// at holds the schema places of the facts derived from transactions,
	// in the order of a derived row.
	at     []int
	pop    *popState     // nil when there are no population facts
	models *modelState   // nil when there are no predicted facts
	spill  *derivedSpill // the first pass's rows; nil for one pass
	report *DerivedReport
}

func newDeriver(rs *rules.RuleSet, ss Sources, asOf time.Time) *deriver {
	d := &deriver{rs: rs, ss: ss, asOf: asOf, l: newDerivedLayout(rs, asOf), report: &DerivedReport{}}
	d.base, d.declAt = rs.WithoutDerived()
	for _, df := range rs.Derived() {
		switch df.Field.Derived.Kind {
		case rules.DerivedTransactions:
			d.at = append(d.at, df.Index)
		case rules.DerivedPopulation:
			if d.pop == nil {
				d.pop = newPopState(rs, asOf)
			}
		case rules.DerivedPredicted:
			if d.models == nil {
				d.models = newModelState(rs)
			}
		}
	}
	return d
}

// declaredSources are the sources as the snapshot of the declared facts
// reads them: without the transactions, which the deriver reads.
func (d *deriver) declaredSources() Sources {
	ss := append(Sources(nil), d.ss...)
	ss[0].Transactions = nil
	return ss
}

// twoPass reports whether the run needs the first pass.
func (d *deriver) twoPass() bool { return d.pop != nil || d.models != nil }

// prepare runs the first pass, when one is needed.
func (d *deriver) prepare(ctx context.Context) error {
	if !d.twoPass() {
		return nil
	}
	return d.passOne(ctx, defaultDeriveBatch)
}

// defaultDeriveBatch is the batch size of the first pass's reads.
const defaultDeriveBatch = 1000

// rows opens the derived rows of the run's pass: the first pass's spill,
// or the transactions' rows themselves.
func (d *deriver) rows(ctx context.Context, batchSize int) (custIter, error) {
	if d.spill != nil {
		return d.spill.open()
	}
	if d.l.width() == 0 {
		return emptyIter{}, nil
	}
	return d.openRows(ctx, batchSize)
}

// fill gives c its derived facts from its derived row (nil when it has
// none).
func (d *deriver) fill(c *engine.Customer, row *engine.Customer) {
	facts := d.place(c.Facts)
	vals := d.l.empty()
	switch {
	case row != nil:
		vals = row.Facts
		c.FactErrors = append(c.FactErrors, row.FactErrors...)
		if d.spill == nil {
			d.report.Customers++
		}
	case d.spill != nil:
		c.FactErrors = append(c.FactErrors, engine.FactError{Fact: d.l.errFact,
			Err: errors.New("the customer was not in the facts when tierflow read every customer for the population and predicted facts: its facts changed during the run; run again")})
	}
	for i, at := range d.at {
		facts[at] = vals[i]
	}
	if d.pop != nil {
		d.pop.fill(facts)
	}
	if d.models != nil && len(vals) > len(d.at) {
		d.models.fill(facts, vals[len(d.at):])
	}
	c.Facts = facts
}

// place returns a row of the rule set's schema holding the declared
// facts of a row of base's.
func (d *deriver) place(declared []any) []any {
	facts := make([]any, len(d.rs.Facts.Fields))
	for i, at := range d.declAt {
		if i < len(declared) {
			facts[at] = declared[i]
		}
	}
	return facts
}

func (d *deriver) close() error {
	if d.spill == nil {
		return nil
	}
	err := d.spill.remove()
	d.spill = nil
	return err
}

// openRows opens the stream of derived rows of every key with
// transactions, from the primary source's transactions, in key order: the
// source's own aggregate when it has one (and keys are not normalised),
// else tierflow's aggregation of the transactions, with the summaries
// the predicted facts read.
func (d *deriver) openRows(ctx context.Context, batchSize int) (custIter, error) {
	src := &d.ss[0]
	if agg, ok := src.Transactions.(DerivedAggregator); ok && src.Key.IsZero() && len(d.l.tx) > 0 {
		fr, ok, err := agg.AggregateDerived(ctx, d.rs, d.asOf)
		if err != nil {
			return nil, fmt.Errorf("transactions of %s: %w", d.rs.Name, err)
		}
		if ok {
			d.report.Method = DerivedSQL
			a := &readerCloser{custIter: &inOrder{custIter: readerIter(ctx, batchSize, fr.Stream), source: "transactions (aggregate)"}, r: fr}
			if !d.l.predict {
				return a, nil
			}
			b, err := d.openTxAgg(ctx, batchSize, false)
			if err != nil {
				a.close()
				return nil, err
			}
			return &zipDerived{a: a, b: b, l: d.l}, nil
		}
	}
	d.report.Method = DerivedStream
	return d.openTxAgg(ctx, batchSize, true)
}

// openTxAgg aggregates the raw transactions, in key order: as the source
// gives them when it orders them by key (and keys are not normalised),
// else sorted on disk.
func (d *deriver) openTxAgg(ctx context.Context, batchSize int, aggTx bool) (custIter, error) {
	src := &d.ss[0]
	txRS := TransactionsRuleSet(d.rs)
	fr, err := src.Transactions.OpenFacts(ctx, txRS)
	if err != nil {
		return nil, fmt.Errorf("transactions of %s: %w", d.rs.Name, err)
	}
	var it custIter = readerIter(ctx, batchSize, fr.Stream)
	if !src.Key.IsZero() {
		it = &normalized{custIter: it, k: src.Key}
	}
	if o, ok := fr.(Ordered); ok && o.Ordered() && src.Key.IsZero() {
		it = &inOrder{custIter: it, source: "transactions"}
	} else {
		it = sortIter(ctx, it)
	}
	agg := newTxAggIter(it, d.l, aggTx, d.rs.TransactionColumns())
	return &readerCloser{custIter: agg, r: fr}, nil
}

// readerCloser closes a facts reader after the stage reading it.
type readerCloser struct {
	custIter
	r FactsReader
}

func (r *readerCloser) close() {
	r.custIter.close()
	r.r.Close() //nolint:errcheck // a read-only pass: nothing to lose
}

// emptyIter is a stream with nothing in it.
type emptyIter struct{}

func (emptyIter) next() *engine.Customer { return nil }
func (emptyIter) Err() error             { return nil }
func (emptyIter) close()                 {}
