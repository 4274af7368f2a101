package kernel

import (
	"context"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// stateColumns are the select expressions that read rs's state from the
// state row st under layout lay, in the order RowScanner reads a
// snapshot's state: each segmentation's segment, since and pending-since,
// then the last time of each action with a cooldown. A segmentation or
// action without a position has NULL: no state yet. reads is false when
// every expression is NULL, so that the row need not be read at all.
func stateColumns(d *Dialect, lay *Layout, rs *rules.RuleSet, st string) (cols []string, reads bool) {
	elem := func(col string, pos int) string {
		if pos == 0 {
			return "NULL"
		}
		reads = true
		return d.State.Elem(st+"."+col, pos)
	}
	for _, s := range rs.Segmentations {
		p := lay.Segment(s.Name)
		cols = append(cols, elem("segments", p), elem("since", p), elem("pending_since", p))
	}
	for _, a := range rs.Actions {
		if a.Cooldown > 0 {
			cols = append(cols, elem("action_at", lay.LastAction(a.Name)))
		}
	}
	return cols, reads
}

// stateValues holds the scanned values of stateColumns for one row and
// sets a customer's state from them.
type stateValues struct {
	rs      *rules.RuleSet
	time    func(any) (time.Time, error)
	cooling []int // indexes of the actions with a cooldown
	vals    []any
	dest    []any
}

func newStateValues(d *Dialect, rs *rules.RuleSet) *stateValues {
	v := &stateValues{rs: rs, time: d.Time}
	for i, a := range rs.Actions {
		if a.Cooldown > 0 {
			v.cooling = append(v.cooling, i)
		}
	}
	n := 3*len(rs.Segmentations) + len(v.cooling)
	v.vals, v.dest = make([]any, n), make([]any, n)
	for i := range v.vals {
		v.dest[i] = &v.vals[i]
	}
	return v
}

// set sets c's state from the values last scanned into dest. c's
// Segments, and LastActions where an action has a cooldown, must be made.
func (v *stateValues) set(c *engine.Customer) error {
	i := 0
	for k := range v.rs.Segmentations {
		seg, _ := v.vals[i].(string)
		if b, ok := v.vals[i].([]byte); ok {
			seg = string(b)
		}
		since, err := v.time(v.vals[i+1])
		if err != nil {
			return fmt.Errorf("customer %s: %w", c.Key, err)
		}
		pending, err := v.time(v.vals[i+2])
		if err != nil {
			return fmt.Errorf("customer %s: %w", c.Key, err)
		}
		c.State.Segments[k] = engine.Assignment{Segment: seg, Since: since, PendingSince: pending}
		i += 3
	}
	for _, ai := range v.cooling {
		t, err := v.time(v.vals[i])
		if err != nil {
			return fmt.Errorf("customer %s: %w", c.Key, err)
		}
		c.State.LastActions[ai] = t
		i++
	}
	return nil
}

// loadRows sets the state of the customers of batch from their state
// rows, in one query; a customer with none keeps the empty state Load
// made.
func (r *StateReader) loadRows(ctx context.Context, batch []engine.Customer) error {
	keys, each := byKey(batch)
	inKeys, arg := r.d.InKeys("st.customer_key", 2, keys)
	rows, err := r.tx.QueryContext(ctx, "SELECT st.customer_key, "+r.cols+" FROM "+r.t.State+" st WHERE st.ruleset = $1 AND "+inKeys, r.rs.Name, arg)
	if err != nil {
		return r.secrets.Err(err)
	}
	defer rows.Close()
	v := newStateValues(r.d, r.rs)
	var key string
	dest := append([]any{&key}, v.dest...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return r.secrets.Err(err)
		}
		var setErr error
		each(key, func(c *engine.Customer) {
			if setErr == nil {
				setErr = v.set(c)
			}
		})
		if setErr != nil {
			return setErr
		}
	}
	return r.secrets.Err(rows.Err())
}
