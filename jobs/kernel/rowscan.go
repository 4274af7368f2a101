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
// segment, since and pending-since; for each action with a cooldown,
// when it was last queued; the customer's mark, its wake-up time and
// facts digest (stateColumns); and the digest of the row's facts
// (Dialect.Digest, NULL where the dialect has none). Stores supply how
// their driver's values decode.
type RowScanner struct {
	rs    *rules.RuleSet
	dest  []any
	vals  []any
	state *stateValues // nil: rows hold the key and facts only
	// facts, segments and lastActions hand out the customers' slices.
	facts       slab[any]
	segments    slab[engine.Assignment]
	lastActions slab[time.Time]
	// Fact converts a fact value as the driver returns it.
	Fact func(f rules.Field, v any) (any, error)
	// settled is true when rows end, after the digest, with whether the
	// database decided the customer unchanged (engine.Customer.Settled).
	settled bool
}

// WithSettled makes sc read rows that end with the database's decision
// (decidedSQL, as a boolean) after the digest.
func (sc *RowScanner) WithSettled() *RowScanner {
	sc.settled = true
	sc.alloc(len(sc.vals) + 1)
	return sc
}

// NewRowScanner prepares a scanner for rs's snapshot rows, as dialect d
// reads them.
func NewRowScanner(rs *rules.RuleSet, d *Dialect) *RowScanner {
	sc := &RowScanner{rs: rs, Fact: d.Fact, state: newStateValues(rs, d)}
	sc.alloc(1 + len(rs.Facts.Fields) + stateColumnCount(d, rs) + 1)
	return sc
}

// NewFactsScanner prepares a scanner for rows of a key and rs's facts,
// with no state: customers get an empty state.
func NewFactsScanner(rs *rules.RuleSet, fact func(rules.Field, any) (any, error)) *RowScanner {
	sc := &RowScanner{rs: rs, Fact: fact}
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
	c := engine.Customer{Key: key, Facts: sc.facts.take(len(sc.rs.Facts.Fields))}
	i := 1
	for k, f := range sc.rs.Facts.Fields {
		c.Facts[k] = sc.fact(&c, f, v[i])
		i++
	}
	c.State.Segments = sc.segments.take(len(sc.rs.Segmentations))
	if sc.state == nil {
		return c, nil
	}
	if len(sc.state.cooling) > 0 {
		c.State.LastActions = sc.lastActions.take(len(sc.rs.Actions))
	}
	if sc.settled {
		settled, err := boolValue(v[len(v)-1])
		if err != nil {
			return c, fmt.Errorf("customer %s: the database's decision: %w", c.Key, err)
		}
		c.Settled, v = settled, v[:len(v)-1]
	}
	digest, err := int64Value(v[len(v)-1])
	if err != nil {
		return c, fmt.Errorf("customer %s: facts digest: %w", c.Key, err)
	}
	c.FactsDigest = uint64(digest)
	return c, sc.state.set(&c, v[i:len(v)-1])
}

// slab hands out slices cut from larger allocations, so that reading a
// customer costs no allocation per slice: a full apply made 43 per
// customer, and the collector's work grows with them. A slice
// has its own capacity, so appending to it copies; a chunk is freed once
// no customer cut from it is left.
type slab[T any] struct{ free []T }

// slabCustomers is how many customers' slices one chunk holds.
const slabCustomers = 256

func (s *slab[T]) take(n int) []T {
	if n == 0 {
		return make([]T, 0)
	}
	if len(s.free) < n {
		s.free = make([]T, n*slabCustomers)
	}
	out := s.free[:n:n]
	s.free = s.free[n:]
	return out
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
