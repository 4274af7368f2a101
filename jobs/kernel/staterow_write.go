package kernel

import (
	"fmt"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// StateChange is what an apply changes in one customer's state row,
// indexed by layout position - 1: a store stages it and merges it into
// the row at commit (StateUpsertSQL). Set marks the segmentations whose
// assignment changes; one with an empty segment is a leave. ActionAt
// holds the run's as-of for each action the customer got now that starts
// its cooldown, zero elsewhere. Positions past the end of a slice, and
// those not set, keep what the row holds.
type StateChange struct {
	Customer     string
	Set          []bool
	Segments     []string
	Since        []time.Time
	PendingSince []time.Time // zero: none
	Reasons      []string
	ActionAt     []time.Time
	// Mark is the customer's new wake-up time and facts digest
	// (jobs.Evaluated.Mark), which the row takes whatever else is set.
	Mark engine.Mark
}

// reset empties c for customer key, with room for the positions of lay.
func (c *StateChange) reset(key string, lay *Layout) {
	segs, acts := lay.Segments(), lay.Actions()
	c.Customer = key
	c.Set = resize(c.Set, segs)
	c.Segments = resize(c.Segments, segs)
	c.Since = resize(c.Since, segs)
	c.PendingSince = resize(c.PendingSince, segs)
	c.Reasons = resize(c.Reasons, segs)
	c.ActionAt = resize(c.ActionAt, acts)
}

// resize returns s with n zero elements, reusing its array.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// StateChanges is Changes, calling also state once for every customer of
// batch whose state row changes: a changed assignment or leave, an action
// that starts its cooldown, or a new mark (jobs.Evaluated.Mark unlike the
// customer's State.Mark). Positions come from lay, which gives a segment
// sync one the first time it is queued (Layout.Action); lay must hold
// every segmentation and action of rs (Layout.Register). The StateChange
// passed to state is reused for the next customer.
func StateChanges(rs *rules.RuleSet, run jobs.RunInfo, lay *Layout, batch []jobs.Evaluated,
	assign func(*Assignment) error, queue func(*Queued) error, state func(*StateChange) error) error {
	var c StateChange
	for i := range batch {
		ev := &batch[i]
		c.reset(ev.Customer.Key, lay)
		c.Mark = ev.Mark
		dirty := !ev.Mark.Equal(ev.Customer.State.Mark)
		err := Changes(rs, run, batch[i:i+1], func(a *Assignment) error {
			p := lay.Segment(a.Segmentation) - 1
			if p < 0 {
				return fmt.Errorf("segmentation %s has no position in the state layout of %s", a.Segmentation, rs.Name)
			}
			dirty = true
			c.Set[p], c.Segments[p], c.Reasons[p] = true, a.Segment, a.Reason
			c.Since[p], c.PendingSince[p] = a.Since, a.PendingSince
			if a.Leaves() {
				c.Reasons[p] = ""
			}
			return assign(a)
		}, func(q *Queued) error {
			if q.StartsCooldown() {
				dirty = true
				p := lay.Action(rs, q.Action)
				for len(c.ActionAt) < p {
					c.ActionAt = append(c.ActionAt, time.Time{})
				}
				c.ActionAt[p-1] = run.AsOf
			}
			return queue(q)
		})
		if err != nil {
			return err
		}
		if dirty {
			if err := state(&c); err != nil {
				return err
			}
		}
	}
	return nil
}

// StateUpsertSQL merges the staged state changes of the rule set ($1)
// into its state rows in t.State. stage is the staging table, whose rows
// of kind 's' hold one customer's StateChange in columns st_segments,
// st_since, st_pending_since, st_reasons, st_run_ids and st_action_at,
// typed as the state row's own: st_segments has the new segment at each
// position set, an empty one for a leave, NULL elsewhere; the others the new
// values at the positions set (NULL for a leave), with the run's id in
// st_run_ids; st_action_at the times of actions that start a cooldown;
// st_wake_at and st_facts_digest the customer's new mark (NULL for a
// zero time or digest), which replaces the row's.
// A new customer's row is inserted as staged (no position is empty there: a
// leave needs a segment, and so a row). An existing row keeps what is
// not set, drops a leave's values and keeps the later of each action's
// times; the merged arrays span every position of lay.
func StateUpsertSQL(d *Dialect, t Tables, stage string, lay *Layout) string {
	e, ex := d.State.Elem, "EXCLUDED."
	var segs, since, pending, reasons, runs, acts []string
	for p := 1; p <= lay.Segments(); p++ {
		set := e(ex+"segments", p)
		keep := func(col string) string {
			return fmt.Sprintf("CASE WHEN %s IS NULL THEN %s ELSE %s END", set, e("t."+col, p), e(ex+col, p))
		}
		segs = append(segs, fmt.Sprintf("CASE WHEN %s IS NULL THEN %s ELSE nullif(%s, '') END", set, e("t.segments", p), set))
		since, pending = append(since, keep("since")), append(pending, keep("pending_since"))
		reasons, runs = append(reasons, keep("reasons")), append(runs, keep("run_ids"))
	}
	for p := 1; p <= lay.Actions(); p++ {
		acts = append(acts, d.State.Later(e(ex+"action_at", p), e("t.action_at", p)))
	}
	set := []string{
		"segments = " + d.State.Array(TextElems, segs),
		"since = " + d.State.Array(TimeElems, since),
		"pending_since = " + d.State.Array(TimeElems, pending),
		"reasons = " + d.State.Array(TextElems, reasons),
		"run_ids = " + d.State.Array(IntElems, runs),
		"action_at = " + d.State.Array(TimeElems, acts),
		"wake_at = EXCLUDED.wake_at",
		"facts_digest = EXCLUDED.facts_digest",
	}
	return "INSERT INTO " + t.State + " AS t (ruleset, customer_key, segments, since, pending_since, reasons, run_ids, action_at, wake_at, facts_digest)\n" +
		"SELECT $1, customer_key, st_segments, st_since, st_pending_since, st_reasons, st_run_ids, st_action_at, st_wake_at, st_facts_digest FROM " + stage + " WHERE kind = 's'\n" +
		"ON CONFLICT (ruleset, customer_key) DO UPDATE SET\n" + strings.Join(set, ",\n")
}

// RemoveEmptiedSQL deletes the state rows of the rule set ($1) that the
// merge emptied: customers who left every segmentation they were in (a
// staged leave, kind 'l') and were never queued an action that starts a
// cooldown. A customer who left but holds a cooldown keeps the row, as
// the queue's record of the cooldown outlived the assignments before.
func RemoveEmptiedSQL(d *Dialect, t Tables, stage string, lay *Layout) string {
	var empty []string
	for p := 1; p <= lay.Segments(); p++ {
		empty = append(empty, d.State.Elem("t.segments", p)+" IS NULL")
	}
	for p := 1; p <= lay.Actions(); p++ {
		empty = append(empty, d.State.Elem("t.action_at", p)+" IS NULL")
	}
	if len(empty) == 0 {
		empty = []string{"true"}
	}
	return "DELETE FROM " + t.State + " AS t WHERE t.ruleset = $1\n" +
		"AND t.customer_key IN (SELECT customer_key FROM " + stage + " WHERE kind = 'l')\n" +
		"AND " + strings.Join(empty, " AND ")
}
