package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// findFactsAt is findFacts at a run's as-of time: for a rule set with
// derived facts, it reads the customer's declared facts and derives the
// rest as a run at asOf would, which for population and predicted facts
// takes the first pass over every customer.
func findFactsAt(ctx context.Context, facts FactsSource, rs *rules.RuleSet, key string, asOf time.Time) (*engine.Customer, error) {
	if !rs.HasDerived() {
		return findFacts(ctx, facts, rs, key)
	}
	if asOf.IsZero() {
		return nil, errors.New("jobs: reading one customer of a rule set with derived facts needs jobs.At(asOf)")
	}
	facts, err := route(facts, rs)
	if err != nil {
		return nil, err
	}
	ss := sourcesOf(facts)
	if err := ss.Check(rs); err != nil {
		return nil, err
	}
	d := newDeriver(rs, ss, asOf.UTC().Truncate(time.Microsecond))
	defer d.close()
	c, err := findFacts(ctx, d.declaredFacts(facts), d.base, key)
	if err != nil {
		return nil, err
	}
	if err := d.prepare(ctx); err != nil {
		return nil, err
	}
	rows, err := d.rows(ctx, defaultDeriveBatch)
	if err != nil {
		return nil, err
	}
	defer rows.close()
	j := &derivedJoin{d: d, rows: rows}
	if err := j.fill(c); err != nil {
		return nil, err
	}
	return c, rows.Err()
}

// declaredFacts is what reads one customer's declared facts: the only
// source itself when it takes rows as they come (so that a SQL or file
// source can look the customer up), else the sources without their
// transactions.
func (d *deriver) declaredFacts(facts FactsSource) FactsSource {
	if _, ok := facts.(Sources); !ok {
		return facts
	}
	ss := d.declaredSources()
	if s := ss[0]; len(ss) == 1 && s.Key.IsZero() && len(s.Provides) == 0 && s.onDuplicate() == OnDuplicateError {
		return s.Facts
	}
	return ss
}
