package kernel

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// stateColumns are the select expressions that read rs's state from the
// state row st under layout lay, in the order stateValues reads them:
// each segmentation's segment, since and pending-since, then the last
// time of each action with a cooldown, then the row's wake-up time and
// facts digest (engine.Mark). A segmentation or action without a
// position has NULL: no state yet. reads is false when lay gives none of
// rs's segmentations and cooling actions a position, so that the row
// need not be read at all (a first run: every column is NULL). Where the
// dialect packs them (StateSQL.Pack), they are one column.
func stateColumns(d *Dialect, lay *Layout, rs *rules.RuleSet, st string) (cols []string, reads bool) {
	cols, reads = stateElems(d, lay, rs, st)
	if d.State.Pack == nil {
		return cols, reads
	}
	if !reads {
		return []string{"NULL"}, false
	}
	return []string{d.State.Pack(cols)}, true
}

// stateElems are stateColumns, one for each value.
func stateElems(d *Dialect, lay *Layout, rs *rules.RuleSet, st string) (cols []string, reads bool) {
	timeText := func(expr string) string {
		if d.TimeText == nil {
			return expr
		}
		return d.TimeText(expr)
	}
	elem := func(col string, pos int) string {
		if pos == 0 {
			return "NULL"
		}
		reads = true
		return d.State.Elem(st+"."+col, pos)
	}
	timeElem := func(col string, pos int) string {
		if pos == 0 {
			return "NULL"
		}
		return timeText(elem(col, pos))
	}
	for _, s := range rs.Segmentations {
		p := lay.Segment(s.Name)
		cols = append(cols, elem("segments", p), timeElem("since", p), timeElem("pending_since", p))
	}
	for _, a := range rs.Actions {
		if a.Cooldown > 0 {
			cols = append(cols, timeElem("action_at", lay.LastAction(a.Name)))
		}
	}
	if reads {
		return append(cols, timeText(st+".wake_at"), st+".facts_digest"), true
	}
	return append(cols, "NULL", "NULL"), false
}

// stateColumnCount is the number of stateColumns of rs.
func stateColumnCount(d *Dialect, rs *rules.RuleSet) int {
	if d.State.Pack != nil {
		return 1
	}
	return stateElemCount(rs)
}

// stateElemCount is the number of stateElems of rs.
func stateElemCount(rs *rules.RuleSet) int {
	n := 3*len(rs.Segmentations) + 2
	for _, a := range rs.Actions {
		if a.Cooldown > 0 {
			n++
		}
	}
	return n
}

// NullDigest is a facts digest as a state row keeps it: its bits as a
// signed 64-bit integer (the stores' integer type), NULL for none.
func NullDigest(d uint64) any {
	if d == 0 {
		return nil
	}
	return int64(d)
}

// stateValues sets customers' state from the values of stateColumns.
type stateValues struct {
	rs      *rules.RuleSet
	time    func(any) (time.Time, error)
	cooling []int // indexes of the actions with a cooldown
	// packed is the dialect's packing of the columns in one (StateSQL.Pack),
	// nil for none; elems is the buffer Unpack fills with the n values,
	// and names has each segmentation's segment names, so that reading
	// one allocates nothing.
	packed *StateSQL
	elems  []string
	n      int
	names  []map[string]string
}

func newStateValues(rs *rules.RuleSet, d *Dialect) *stateValues {
	v := &stateValues{rs: rs, time: d.Time}
	for i, a := range rs.Actions {
		if a.Cooldown > 0 {
			v.cooling = append(v.cooling, i)
		}
	}
	if d.State.Pack != nil {
		v.packed = d.State
		v.n = stateElemCount(rs)
		v.elems = make([]string, 0, v.n)
		for _, s := range rs.Segmentations {
			m := make(map[string]string, len(s.Segments))
			for _, seg := range s.Segments {
				m[seg.Name] = seg.Name
			}
			v.names = append(v.names, m)
		}
	}
	return v
}

// set sets c's state from vals, the values of stateColumns as the driver
// scanned them. c's Segments, and LastActions where an action has a
// cooldown, must be made.
func (v *stateValues) set(c *engine.Customer, vals []any) error {
	if v.packed != nil {
		return v.setPacked(c, vals[0])
	}
	i := 0
	for k := range v.rs.Segmentations {
		since, err := v.time(vals[i+1])
		if err != nil {
			return fmt.Errorf("customer %s: %w", c.Key, err)
		}
		pending, err := v.time(vals[i+2])
		if err != nil {
			return fmt.Errorf("customer %s: %w", c.Key, err)
		}
		c.State.Segments[k] = engine.Assignment{Segment: textValue(vals[i]), Since: since, PendingSince: pending}
		i += 3
	}
	for _, ai := range v.cooling {
		t, err := v.time(vals[i])
		if err != nil {
			return fmt.Errorf("customer %s: %w", c.Key, err)
		}
		c.State.LastActions[ai] = t
		i++
	}
	wake, err := v.time(vals[i])
	if err != nil {
		return fmt.Errorf("customer %s: wake-up time: %w", c.Key, err)
	}
	digest, err := int64Value(vals[i+1])
	if err != nil {
		return fmt.Errorf("customer %s: facts digest: %w", c.Key, err)
	}
	c.State.Mark = engine.Mark{Wake: wake, Digest: uint64(digest)}
	return nil
}

// setPacked sets c's state from the packed value of its state columns
// (nil: no state row, or none of them read).
func (v *stateValues) setPacked(c *engine.Customer, packed any) error {
	if packed == nil {
		return nil // c's state is as made: empty
	}
	elems, err := v.packed.Unpack(v.elems[:0], textValue(packed))
	if err == nil && len(elems) != v.n {
		err = fmt.Errorf("%d values where %d were read", len(elems), v.n)
	}
	if err != nil {
		return fmt.Errorf("customer %s: state row: %w", c.Key, err)
	}
	i := 0
	for k := range v.rs.Segmentations {
		since, err := v.parseTime(elems[i+1])
		if err != nil {
			return fmt.Errorf("customer %s: %w", c.Key, err)
		}
		pending, err := v.parseTime(elems[i+2])
		if err != nil {
			return fmt.Errorf("customer %s: %w", c.Key, err)
		}
		c.State.Segments[k] = engine.Assignment{Segment: v.segment(k, elems[i]), Since: since, PendingSince: pending}
		i += 3
	}
	for _, ai := range v.cooling {
		t, err := v.parseTime(elems[i])
		if err != nil {
			return fmt.Errorf("customer %s: %w", c.Key, err)
		}
		c.State.LastActions[ai] = t
		i++
	}
	wake, err := v.parseTime(elems[i])
	if err != nil {
		return fmt.Errorf("customer %s: wake-up time: %w", c.Key, err)
	}
	var digest int64
	if s := elems[i+1]; s != "" {
		if digest, err = strconv.ParseInt(s, 10, 64); err != nil {
			return fmt.Errorf("customer %s: facts digest %q: %w", c.Key, s, err)
		}
	}
	c.State.Mark = engine.Mark{Wake: wake, Digest: uint64(digest)}
	return nil
}

// parseTime is a packed time element's time, zero for none.
func (v *stateValues) parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return v.packed.ParseTime(s)
}

// segment is the segment name s of segmentation k as the rule set spells
// it, or a copy of s for a segment the rules no longer have: s is part of
// the packed row's text, which the state should not keep alive.
func (v *stateValues) segment(k int, s string) string {
	if name, ok := v.names[k][s]; ok {
		return name
	}
	return strings.Clone(s)
}

// textValue is a text column's value as the driver returns it: a string,
// bytes, or nil for NULL ("").
func textValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
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
	v := newStateValues(r.rs, r.d)
	var key string
	vals := make([]any, stateColumnCount(r.d, r.rs))
	dest := []any{&key}
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return r.secrets.Err(err)
		}
		var setErr error
		each(key, func(c *engine.Customer) {
			if setErr == nil {
				setErr = v.set(c, vals)
			}
		})
		if setErr != nil {
			return setErr
		}
	}
	return r.secrets.Err(rows.Err())
}
