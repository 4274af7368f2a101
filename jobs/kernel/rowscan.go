package kernel

import (
	"context"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// RowScanner turns the rows of a store's snapshot query into engine
// customers, reusing its scan destinations from row to row. A row holds,
// in order: the key; each fact of rs.Facts; for each segmentation its
// segment, since and pending-since; and for each action with a cooldown,
// when it was last queued. Stores supply how their driver's values decode.
type RowScanner struct {
	rs        *rules.RuleSet
	dest      []any
	vals      []any
	cooling   []int // indexes of actions with a cooldown, in row order
	factsOnly bool  // rows hold the key and facts only
	// Fact converts a fact value as the driver returns it.
	Fact func(f rules.Field, v any) (any, error)
	// Time converts a stored state time (nil means none).
	Time func(v any) (time.Time, error)
}

// NewRowScanner prepares a scanner for rs's snapshot rows.
func NewRowScanner(rs *rules.RuleSet, fact func(rules.Field, any) (any, error), tm func(any) (time.Time, error)) *RowScanner {
	sc := &RowScanner{rs: rs, Fact: fact, Time: tm}
	for i, a := range rs.Actions {
		if a.Cooldown > 0 {
			sc.cooling = append(sc.cooling, i)
		}
	}
	sc.alloc(1 + len(rs.Facts.Fields) + 3*len(rs.Segmentations) + len(sc.cooling))
	return sc
}

// NewFactsScanner prepares a scanner for rows of a key and rs's facts,
// with no state: customers get an empty state.
func NewFactsScanner(rs *rules.RuleSet, fact func(rules.Field, any) (any, error)) *RowScanner {
	sc := &RowScanner{rs: rs, Fact: fact, factsOnly: true}
	sc.alloc(1 + len(rs.Facts.Fields))
	return sc
}

func (sc *RowScanner) alloc(n int) {
	sc.vals = make([]any, n)
	sc.dest = make([]any, n)
	for i := range sc.vals {
		sc.dest[i] = &sc.vals[i]
	}
}

// Scan reads one row through scan (a sql.Rows' Scan method).
func (sc *RowScanner) Scan(scan func(dest ...any) error) (engine.Customer, error) {
	if err := scan(sc.dest...); err != nil {
		return engine.Customer{}, fmt.Errorf("read facts of %s: %w", sc.rs.Name, err)
	}
	v := sc.vals
	key := keyString(v[0])
	c := engine.Customer{Key: key, Facts: make([]any, len(sc.rs.Facts.Fields))}
	i := 1
	for k, f := range sc.rs.Facts.Fields {
		c.Facts[k] = sc.fact(&c, f, v[i])
		i++
	}
	c.State.Segments = make([]engine.Assignment, len(sc.rs.Segmentations))
	if sc.factsOnly {
		return c, nil
	}
	for k := range sc.rs.Segmentations {
		seg, _ := v[i].(string)
		since, err := sc.Time(v[i+1])
		if err != nil {
			return c, fmt.Errorf("customer %s: %w", key, err)
		}
		pending, err := sc.Time(v[i+2])
		if err != nil {
			return c, fmt.Errorf("customer %s: %w", key, err)
		}
		c.State.Segments[k] = engine.Assignment{Segment: seg, Since: since, PendingSince: pending}
		i += 3
	}
	if len(sc.cooling) > 0 {
		c.State.LastActions = make([]time.Time, len(sc.rs.Actions))
		for _, ai := range sc.cooling {
			t, err := sc.Time(v[i])
			if err != nil {
				return c, fmt.Errorf("customer %s: %w", key, err)
			}
			c.State.LastActions[ai] = t
			i++
		}
	}
	return c, nil
}

// fact converts the value v of fact f for customer c. A value that does
// not convert, such as 'n/a' in a time or NaN in a number, and a null in
// a fact not declared nullable, are the customer's fact errors, naming
// the fact: the fact is null and the customer is not evaluated.
func (sc *RowScanner) fact(c *engine.Customer, f rules.Field, v any) any {
	if v == nil {
		if !f.Nullable {
			c.FactErrors = append(c.FactErrors, engine.FactError{Fact: f.Name, Err: nullError(f)})
		}
		return nil
	}
	fv, err := sc.Fact(f, v)
	if err != nil {
		c.FactErrors = append(c.FactErrors, engine.FactError{Fact: f.Name, Err: err})
		return nil
	}
	return fv
}

// nullError is the fact error of a null in fact f, which is not declared
// nullable. It reads after the fact's name: "facts.last_order_at: null,
// but ...".
func nullError(f rules.Field) error {
	return fmt.Errorf("null, but the fact is not declared nullable (declare it as %s? in facts:, or fix the source)", f.Type)
}

// Rows is the part of *sql.Rows that Batches reads.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// BatchesContext reads every row into customers and hands them to fn in
// batches of batchSize. A driver error is passed to wrap first (to add
// context or remove secrets). It ends with ctx's error, between two rows,
// once ctx is done, even where the driver would go on reading.
func (sc *RowScanner) BatchesContext(ctx context.Context, rows Rows, batchSize int, fn func([]engine.Customer) error, wrap func(error) error) error {
	for {
		batch := make([]engine.Customer, 0, batchSize)
		for len(batch) < batchSize {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !rows.Next() {
				break
			}
			c, err := sc.Scan(rows.Scan)
			if err != nil {
				return err
			}
			batch = append(batch, c)
		}
		if err := rows.Err(); err != nil {
			return wrap(err)
		}
		if len(batch) == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return err
		}
		if len(batch) < batchSize {
			return nil
		}
	}
}

// keyString reads a key column cast to text: drivers return text as
// string or []byte.
func keyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
