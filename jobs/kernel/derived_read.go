package kernel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// derivedReader is one pass over AggregateDerived's rows. It implements
// jobs.FactsReader and jobs.Ordered.
type derivedReader struct {
	q     *QuerySource
	ds    *DerivedSQL
	rs    *rules.RuleSet
	tx    *sql.Tx
	query string
	args  []any
	facts []*rules.Derivation
}

var _ jobs.Ordered = (*derivedReader)(nil)

func (r *derivedReader) Ordered() bool                        { return true }
func (r *derivedReader) Count(context.Context) (int64, error) { return -1, nil }
func (r *derivedReader) Close() error                         { return r.tx.Rollback() }

func (r *derivedReader) wrap(err error) error {
	return fmt.Errorf("aggregate the transactions of %s: %w", r.rs.Name, r.q.secrets.Err(err))
}

// Stream reads one row per customer key with transactions.
func (r *derivedReader) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	rows, err := r.tx.QueryContext(ctx, r.query, r.args...)
	if err != nil {
		return r.wrap(err)
	}
	defer rows.Close()
	width := 2 // the key and the count of unreadable rows
	for _, dv := range r.facts {
		width += len(aggregateSQL(dv, ""))
	}
	vals := make([]any, width)
	dest := make([]any, width)
	for i := range vals {
		dest[i] = &vals[i]
	}
	var batch []engine.Customer
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := rows.Scan(dest...); err != nil {
			return r.wrap(err)
		}
		c, err := r.customer(vals)
		if err != nil {
			return r.wrap(err)
		}
		if batch = append(batch, c); len(batch) == batchSize {
			if err := fn(batch); err != nil {
				return err
			}
			batch = nil
		}
	}
	if err := rows.Err(); err != nil {
		return r.wrap(err)
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// customer converts one row of the aggregate.
func (r *derivedReader) customer(vals []any) (engine.Customer, error) {
	c := engine.Customer{Key: keyString(vals[0]), Facts: make([]any, len(r.facts))}
	i := 1
	for k, dv := range r.facts {
		v, n, err := r.value(dv, vals[i:])
		if err != nil {
			return c, fmt.Errorf("customer %s: %s: %w", c.Key, dv.Source, err)
		}
		c.Facts[k], i = v, i+n
	}
	bad, err := countOf(vals[i])
	if err != nil {
		return c, err
	}
	if bad > 0 && len(r.facts) > 0 {
		c.FactErrors = append(c.FactErrors, engine.FactError{Fact: r.factName(), Err: unreadable(bad)})
	}
	return c, nil
}

func unreadable(n int64) error {
	what := strconv.FormatInt(n, 10) + " transactions have"
	if n == 1 {
		what = "1 transaction has"
	}
	return errors.New(what + " a time that is not a date-time or a number that is not a number: fix them in the transactions source")
}

// factName is the fact a transaction's error is reported on: the first
// derived one, as the streaming pass does.
func (r *derivedReader) factName() string {
	return r.rs.Derived()[0].Field.Name
}

// value converts the columns of one fact; n is how many it read.
func (r *derivedReader) value(dv *rules.Derivation, vals []any) (v any, n int, err error) {
	switch dv.Func {
	case "count":
		k, err := countOf(vals[0])
		return int(k), 1, err
	case "first", "last":
		if vals[0] == nil {
			return nil, 1, nil
		}
		t, err := r.ds.ScanTime(vals[0])
		return t, 1, err
	case "days_between_orders":
		return r.daysBetween(vals)
	}
	if vals[0] == nil {
		return jobs.EmptyDerived(dv), 1, nil
	}
	x, err := numberOf(vals[0])
	return x, 1, err
}

func (r *derivedReader) daysBetween(vals []any) (any, int, error) {
	n, err := countOf(vals[2])
	if err != nil || n < 2 {
		return nil, 3, err
	}
	first, err := r.ds.ScanTime(vals[0])
	if err != nil {
		return nil, 3, err
	}
	last, err := r.ds.ScanTime(vals[1])
	return jobs.MeanDaysBetween(first, last, n), 3, err
}

// numberOf converts a SUM, MIN, MAX or AVG as drivers return it.
func numberOf(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x + 0, nil // -0 is 0
	case int64:
		return float64(x), nil
	case []byte:
		return strconv.ParseFloat(string(x), 64)
	case string:
		return strconv.ParseFloat(x, 64)
	}
	return 0, fmt.Errorf("unexpected %v (%T) for a number", v, v)
}

// countOf converts a COUNT.
func countOf(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		return int64(x), nil
	case nil:
		return 0, nil
	}
	return 0, fmt.Errorf("unexpected %v (%T) for a count", v, v)
}

// UnixTime converts seconds since 1970 (SQLite's unixepoch(t, 'subsec'),
// milliseconds exact) to a time.
func UnixTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case int64:
		return time.Unix(x, 0).UTC(), nil
	case float64:
		ms := int64(x*1000 + 0.5)
		if x < 0 {
			ms = int64(x*1000 - 0.5)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unexpected %v (%T) for a time", v, v)
}
