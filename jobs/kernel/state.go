package kernel

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// StateReader looks up previous state by customer key in a SQL store's
// state rows, one query per batch. It implements jobs.StateReader and
// jobs.StateKeys.
type StateReader struct {
	d       *Dialect
	t       Tables
	rs      *rules.RuleSet
	tx      *sql.Tx
	secrets Secrets
	initial bool
	// sibling begins a read transaction on tx's snapshot, where Keys reads
	// while Load goes on in tx; nil when Keys reads in tx.
	sibling func(ctx context.Context) (*sql.Tx, error)
	// lay is the rule set's layout in tx's snapshot; cols select rs's
	// state under it (stateColumns), and reads is false when they select
	// nothing.
	lay   *Layout
	cols  string
	reads bool
	// allActs maps every action's name to its index, and allActNames
	// lists them: the outcomes LoadFollowUps reads.
	allActs     map[string]int
	allActNames []string
}

var _ jobs.StateKeys = (*StateReader)(nil)

// OpenStateReader opens a consistent read of rs's state on db.
func OpenStateReader(ctx context.Context, db *sql.DB, d *Dialect, t Tables, rs *rules.RuleSet, secrets Secrets) (*StateReader, error) {
	tx, err := d.BeginRead(ctx, db)
	if err != nil {
		return nil, secrets.Err(err)
	}
	var sibling func(context.Context) (*sql.Tx, error)
	if d.ShareSnapshot != nil {
		if sibling, err = d.ShareSnapshot(ctx, db, tx); err != nil {
			tx.Rollback() //nolint:errcheck
			return nil, fmt.Errorf("read the state of %s: %w", rs.Name, secrets.Err(err))
		}
	}
	r, err := newStateReader(ctx, tx, d, t, rs, secrets)
	if err != nil {
		tx.Rollback() //nolint:errcheck
		return nil, err
	}
	r.sibling = sibling
	return r, nil
}

// newStateReader reads rs's state in the read transaction tx, which the
// caller owns.
func newStateReader(ctx context.Context, tx *sql.Tx, d *Dialect, t Tables, rs *rules.RuleSet, secrets Secrets) (*StateReader, error) {
	lay, err := ReadLayout(ctx, tx, t, rs.Name)
	if err != nil {
		return nil, secrets.Err(err)
	}
	initial, err := isInitial(ctx, tx, d, t, rs, lay)
	if err != nil {
		return nil, secrets.Err(err)
	}
	cols, reads := stateColumns(d, lay, rs, "st")
	r := &StateReader{d: d, t: t, rs: rs, tx: tx, secrets: secrets, initial: initial, lay: lay,
		cols: strings.Join(cols, ", "), reads: reads, allActs: make(map[string]int, len(rs.Actions))}
	for i, a := range rs.Actions {
		r.allActs[a.Name] = i
		r.allActNames = append(r.allActNames, a.Name)
	}
	return r, nil
}

// Initial reports whether the rule set has no state yet.
func (r *StateReader) Initial() bool { return r.initial }

// Close ends the read transaction.
func (r *StateReader) Close() error { return r.tx.Rollback() }

// Keys calls fn with batches of at most batchSize keys of the customers
// with any assignment in the rule set, each once, in ascending byte
// order, as the reader's snapshot has them. It may run while Load does.
func (r *StateReader) Keys(ctx context.Context, batchSize int, fn func([]string) error) error {
	if r.sibling == nil {
		return stateKeys(ctx, r.tx, r.d, r.t, r.rs, r.lay, r.secrets, batchSize, fn)
	}
	tx, err := r.sibling(ctx)
	if err != nil {
		return fmt.Errorf("read the customers of %s: %w", r.rs.Name, r.secrets.Err(err))
	}
	defer tx.Rollback() //nolint:errcheck
	return stateKeys(ctx, tx, r.d, r.t, r.rs, r.lay, r.secrets, batchSize, fn)
}

// stateKeys reads the keys of rs's customers with a segment in q (in
// any segmentation of the layout lay, which q's snapshot has), in byte
// order, and passes them to fn in batches of at most batchSize (1000 when
// batchSize is not positive).
func stateKeys(ctx context.Context, q Queryer, d *Dialect, t Tables, rs *rules.RuleSet, lay *Layout, secrets Secrets, batchSize int, fn func([]string) error) error {
	if batchSize <= 0 {
		batchSize = 1000
	}
	if lay.Segments() == 0 {
		return nil // no customer has ever had a segment
	}
	rows, err := q.QueryContext(ctx, "SELECT "+d.ByteOrder("st.customer_key")+" FROM "+t.State+
		" st WHERE st.ruleset = $1 AND "+lay.anySegment(d, "st")+" ORDER BY 1", rs.Name)
	if err != nil {
		return fmt.Errorf("read the customers of %s: %w", rs.Name, secrets.Err(err))
	}
	defer rows.Close()
	batch := make([]string, 0, batchSize)
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			return fmt.Errorf("read the customers of %s: %w", rs.Name, secrets.Err(err))
		}
		if batch = append(batch, key); len(batch) == batchSize {
			if err := fn(batch); err != nil {
				return err
			}
			batch = make([]string, 0, batchSize)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the customers of %s: %w", rs.Name, secrets.Err(err))
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// Load sets the state of every customer of batch.
func (r *StateReader) Load(ctx context.Context, batch []engine.Customer) error {
	cooldowns := false
	for _, a := range r.rs.Actions {
		cooldowns = cooldowns || a.Cooldown > 0
	}
	for i := range batch {
		c := &batch[i]
		c.State.Segments = make([]engine.Assignment, len(r.rs.Segmentations))
		c.State.LastActions = nil
		if cooldowns {
			c.State.LastActions = make([]time.Time, len(r.rs.Actions))
		}
	}
	if len(batch) == 0 || !r.reads {
		return nil
	}
	return r.loadRows(ctx, batch)
}

// byKey returns the keys of batch, in its order (a key repeats for each
// customer that shares it), and a function that calls fn with every
// customer of batch with a key: the customers of a key a query returns.
func byKey(batch []engine.Customer) (keys []string, each func(key string, fn func(*engine.Customer))) {
	keys = make([]string, len(batch))
	at := make(map[string]int, len(batch))
	next := make([]int, len(batch)) // customers sharing a key, chained
	for i := range batch {
		keys[i] = batch[i].Key
		next[i] = -1
		if j, ok := at[keys[i]]; ok {
			next[i] = j
		}
		at[keys[i]] = i
	}
	return keys, func(key string, fn func(c *engine.Customer)) {
		for i, ok := at[key]; ok && i >= 0; i = next[i] {
			fn(&batch[i])
		}
	}
}
