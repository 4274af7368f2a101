package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// Derived facts (rules.RuleSet.Derived) are computed at each run's as-of,
// before any rule is evaluated, and join each customer's facts by key:
//
//   - facts derived from transactions come from the primary source's
//     Transactions: in one aggregate query where the source can
//     (DerivedAggregator: SQL on the state database), else in a
//     streaming pass over the transactions in key order (sorted on disk
//     when the source does not give that order), holding one customer's
//     accumulators at a time;
//   - population and predicted facts need every customer first: a first
//     pass reads the facts and the derived rows, feeds the population
//     columns and the models' inputs, and spills each customer's derived
//     row to a temporary file in key order; the models are fitted; the
//     run's pass then reads the spill alongside its own.
//
// A customer with facts but no transactions gets EmptyDerived's values; a
// key with transactions but no facts row is no customer of the run.

// DerivedAggregator is implemented by transactions sources that compute a
// rule set's transaction facts themselves, in one query.
type DerivedAggregator interface {
	// AggregateDerived opens the aggregate of rs's transactions at asOf:
	// one row per customer key with transactions, in ascending byte order
	// of the key, whose Facts are the values of rs's facts derived from
	// transactions (rules.DerivedTransactions), in schema order, as
	// EmptyDerived and MeanDaysBetween define them. ok is false when the
	// source cannot (it is not on the state database): tierflow then
	// aggregates a stream of the transactions itself.
	AggregateDerived(ctx context.Context, rs *rules.RuleSet, asOf time.Time) (r FactsReader, ok bool, err error)
}

// checkTransactions reports a rule set that derives facts from
// transactions without a transactions source, and one with a
// transactions source it does not read.
func (ss Sources) checkTransactions(rs *rules.RuleSet) error {
	var tx FactsSource
	if len(ss) > 0 {
		tx = ss[0].Transactions
	}
	needs := rs.TransactionColumns() != nil
	switch {
	case needs && tx == nil:
		return fmt.Errorf("rule set %s derives facts from transactions (derived: in the rule file), but no transactions source is configured: add transactions: {table: orders} (or a query or file) to its entry under rulesets: in the config file", rs.Name)
	case !needs && tx != nil:
		return fmt.Errorf("rule set %s has a transactions source, but none of its facts is derived from transactions: remove transactions: from its entry in the config file, or declare derived facts in the rule file", rs.Name)
	}
	for i, s := range ss {
		if i > 0 && s.Transactions != nil {
			return fmt.Errorf("source %q has transactions: only a rule set's first source may", s.Name)
		}
	}
	return nil
}

// derivedSnapshot is the Snapshot of a rule set with derived facts: the
// snapshot of its declared facts (rules.RuleSet.WithoutDerived), whose
// customers get their derived facts as they stream.
type derivedSnapshot struct {
	Snapshot
	d *deriver
}

// unwrapSnapshot returns the snapshot a derivedSnapshot reads, or snap.
func unwrapSnapshot(snap Snapshot) Snapshot {
	if d, ok := snap.(*derivedSnapshot); ok {
		return d.Snapshot
	}
	return snap
}

// derivedReportOf returns what deriving a snapshot's facts found, nil for
// a rule set without derived facts.
func derivedReportOf(snap Snapshot) *DerivedReport {
	if d, ok := snap.(*derivedSnapshot); ok {
		return d.d.report
	}
	return nil
}

// openDerived is OpenSnapshot for a rule set with derived facts.
func openDerived(ctx context.Context, state StateStore, facts FactsSource, rs *rules.RuleSet, cfg snapshotConfig) (Snapshot, error) {
	if cfg.asOf.IsZero() {
		return nil, errors.New("jobs: a snapshot of a rule set with derived facts needs jobs.At(asOf)")
	}
	ss := sourcesOf(facts)
	if err := ss.Check(rs); err != nil {
		return nil, err
	}
	d := newDeriver(rs, ss, cfg.asOf)
	if err := d.prepare(ctx); err != nil {
		d.close()
		return nil, err
	}
	inner, err := OpenSnapshot(ctx, state, d.declaredSources(), d.base, At(cfg.asOf))
	if err != nil {
		d.close()
		return nil, err
	}
	return &derivedSnapshot{Snapshot: inner, d: d}, nil
}

// Close closes the snapshot and removes the first pass's spill.
func (s *derivedSnapshot) Close() error {
	return errors.Join(s.Snapshot.Close(), s.d.close())
}

// Stream streams the snapshot's customers with their derived facts.
func (s *derivedSnapshot) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	rows, err := s.d.rows(ctx, batchSize)
	if err != nil {
		return err
	}
	defer rows.close()
	j := &derivedJoin{d: s.d, rows: rows}
	err = s.Snapshot.Stream(ctx, batchSize, func(batch []engine.Customer) error {
		for i := range batch {
			if err := j.fill(&batch[i]); err != nil {
				return err
			}
		}
		return fn(batch)
	})
	if err != nil {
		return err
	}
	return rows.Err()
}

// derivedJoin merges the derived rows, in key order, into the customers
// of a snapshot, in key order too.
type derivedJoin struct {
	d      *deriver
	rows   custIter
	head   *engine.Customer
	primed bool
	prev   string
	seen   bool
}

// fill gives c its derived facts.
func (j *derivedJoin) fill(c *engine.Customer) error {
	if c.Absent {
		c.Facts = make([]any, len(j.d.rs.Facts.Fields)) // all null
		return nil
	}
	row, err := j.find(c.Key)
	if err != nil {
		return err
	}
	j.d.fill(c, row)
	return nil
}

// find moves the derived rows on to key, the next customer in key order,
// and returns its row, or nil when it has none.
func (j *derivedJoin) find(key string) (*engine.Customer, error) {
	if j.seen && key < j.prev {
		return nil, fmt.Errorf("customer %q came after %q, out of key order: this is a bug in tierflow's derived facts, please report it", key, j.prev)
	}
	j.prev, j.seen = key, true
	if !j.primed {
		j.head, j.primed = j.rows.next(), true
	}
	for j.head != nil && j.head.Key < key {
		j.head = j.rows.next()
	}
	if j.head != nil && j.head.Key == key {
		return j.head, nil
	}
	return nil, nil
}
