package kernel

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// StateReader looks up previous state by customer key in a SQL store's
// tables, one query per table and batch. It implements jobs.StateReader
// and jobs.StateKeys.
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
	segs    map[string]int // segmentation name -> index
	acts    map[string]int // action with a cooldown -> index
	// segNames and actNames are the keys of segs and acts: the queries
	// name them so that the lookup descends the primary key (ruleset,
	// segmentation or action, customer_key) instead of scanning the rule
	// set's rows.
	segNames, actNames []string
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
	initial, err := isInitial(ctx, tx, t, rs)
	if err != nil {
		return nil, secrets.Err(err)
	}
	r := &StateReader{d: d, t: t, rs: rs, tx: tx, secrets: secrets, initial: initial, segs: map[string]int{}, acts: map[string]int{},
		allActs: make(map[string]int, len(rs.Actions))}
	for i, s := range rs.Segmentations {
		r.segs[s.Name] = i
		r.segNames = append(r.segNames, s.Name)
	}
	for i, a := range rs.Actions {
		r.allActs[a.Name] = i
		r.allActNames = append(r.allActNames, a.Name)
		if a.Cooldown > 0 {
			r.acts[a.Name] = i
			r.actNames = append(r.actNames, a.Name)
		}
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
		return stateKeys(ctx, r.tx, r.d, r.t, r.rs, r.secrets, batchSize, fn)
	}
	tx, err := r.sibling(ctx)
	if err != nil {
		return fmt.Errorf("read the customers of %s: %w", r.rs.Name, r.secrets.Err(err))
	}
	defer tx.Rollback() //nolint:errcheck
	return stateKeys(ctx, tx, r.d, r.t, r.rs, r.secrets, batchSize, fn)
}

// stateKeys reads the keys of rs's customers with any assignment in q,
// in byte order, and passes them to fn in batches of at most batchSize
// (1000 when batchSize is not positive).
func stateKeys(ctx context.Context, q Queryer, d *Dialect, t Tables, rs *rules.RuleSet, secrets Secrets, batchSize int, fn func([]string) error) error {
	if batchSize <= 0 {
		batchSize = 1000
	}
	rows, err := q.QueryContext(ctx, "SELECT DISTINCT "+d.ByteOrder("customer_key")+" FROM "+t.Assignments+
		" WHERE ruleset = $1 ORDER BY 1", rs.Name)
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
	for i := range batch {
		c := &batch[i]
		c.State.Segments = make([]engine.Assignment, len(r.rs.Segmentations))
		c.State.LastActions = nil
		if len(r.acts) > 0 {
			c.State.LastActions = make([]time.Time, len(r.rs.Actions))
		}
	}
	if len(batch) == 0 {
		return nil
	}
	keys, each := byKey(batch)
	if err := r.loadAssignments(ctx, keys, each); err != nil {
		return err
	}
	if len(r.acts) == 0 {
		return nil
	}
	return r.loadLastActions(ctx, keys, each)
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

func (r *StateReader) loadAssignments(ctx context.Context, keys []string, each func(string, func(*engine.Customer))) error {
	inSegs, segs := r.d.InKeys("segmentation", 2, r.segNames)
	inKeys, arg := r.d.InKeys("customer_key", 3, keys)
	rows, err := r.tx.QueryContext(ctx, "SELECT customer_key, segmentation, segment, since, pending_since FROM "+r.t.Assignments+
		" WHERE ruleset = $1 AND "+inSegs+" AND "+inKeys, r.rs.Name, segs, arg)
	if err != nil {
		return r.secrets.Err(err)
	}
	defer rows.Close()
	var key, seg, segment string
	var since, pending any
	for rows.Next() {
		if err := rows.Scan(&key, &seg, &segment, &since, &pending); err != nil {
			return r.secrets.Err(err)
		}
		i, ok := r.segs[seg]
		if !ok {
			continue // a segmentation the rules no longer define
		}
		a := engine.Assignment{Segment: segment}
		if a.Since, err = r.d.Time(since); err != nil {
			return fmt.Errorf("customer %s: %w", key, err)
		}
		if a.PendingSince, err = r.d.Time(pending); err != nil {
			return fmt.Errorf("customer %s: %w", key, err)
		}
		each(key, func(c *engine.Customer) { c.State.Segments[i] = a })
	}
	return r.secrets.Err(rows.Err())
}

func (r *StateReader) loadLastActions(ctx context.Context, keys []string, each func(string, func(*engine.Customer))) error {
	inActs, acts := r.d.InKeys("action", 2, r.actNames)
	inKeys, arg := r.d.InKeys("customer_key", 3, keys)
	rows, err := r.tx.QueryContext(ctx, "SELECT customer_key, action, queued_at FROM "+r.t.ActionLast+
		" WHERE ruleset = $1 AND "+inActs+" AND "+inKeys, r.rs.Name, acts, arg)
	if err != nil {
		return r.secrets.Err(err)
	}
	defer rows.Close()
	var key, action string
	var queued any
	for rows.Next() {
		if err := rows.Scan(&key, &action, &queued); err != nil {
			return r.secrets.Err(err)
		}
		i, ok := r.acts[action]
		if !ok {
			continue
		}
		t, err := r.d.Time(queued)
		if err != nil {
			return fmt.Errorf("customer %s: %w", key, err)
		}
		each(key, func(c *engine.Customer) { c.State.LastActions[i] = t })
	}
	return r.secrets.Err(rows.Err())
}
