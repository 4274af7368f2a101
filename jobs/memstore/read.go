package memstore

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// OpenState opens a view of rs's state as it is now: commits after it do
// not change what it reads.
func (s *Store) OpenState(ctx context.Context, rs *rules.RuleSet) (jobs.StateReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	state := s.sets[rs.Name]
	r := &reader{rs: rs, state: state, hadHistory: s.hadHistory[rs.Name], follow: s.followRowsLocked(rs.Name)}
	s.mu.Unlock()
	for _, a := range rs.Actions {
		r.cooldowns = r.cooldowns || a.Cooldown > 0
	}
	return r, nil
}

var _ jobs.StateKeys = (*reader)(nil)

// reader is a StateReader on one published state of a rule set; it can
// list the customers it knows (jobs.StateKeys).
type reader struct {
	rs        *rules.RuleSet
	state     *ruleSet // nil: the rule set has no state
	cooldowns bool     // some action has a cooldown: load last actions
	// hadHistory is true when the rule set had history: state once.
	hadHistory bool
	// follow is the rule set's queue as the view has it, by customer: the
	// follow-up history (LoadFollowUps).
	follow map[string][]followRow
	closed bool
}

// Initial reports whether the rule set had no state when the view was
// opened: no assignments, and no history (customers who all left).
func (r *reader) Initial() bool { return r.empty() && !r.hadHistory }

// empty reports whether the rule set has no assignments.
func (r *reader) empty() bool { return r.state == nil || len(r.state.assignments) == 0 }

// Close ends the view.
func (r *reader) Close() error {
	r.closed = true
	return nil
}

// Load sets the state of every customer of batch, as kernel.StateReader
// does: one entry per segmentation, and when any action has a cooldown,
// one last-queued time per action.
func (r *reader) Load(ctx context.Context, batch []engine.Customer) error {
	if r.closed {
		return errors.New("read previous state: the state reader is closed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range batch {
		c := &batch[i]
		c.State.Segments = make([]engine.Assignment, len(r.rs.Segmentations))
		c.State.LastActions = nil
		if r.cooldowns {
			c.State.LastActions = make([]time.Time, len(r.rs.Actions))
		}
	}
	if r.state == nil {
		return nil
	}
	for i := range batch {
		r.load(&batch[i])
	}
	return nil
}

func (r *reader) load(c *engine.Customer) {
	c.State.Mark = r.state.marks[c.Key]
	for i, seg := range r.rs.Segmentations {
		if a, ok := r.state.assignments[assignKey{seg.Name, c.Key}]; ok {
			c.State.Segments[i] = engine.Assignment{Segment: a.segment, Since: a.since, PendingSince: a.pendingSince}
		}
	}
	if !r.cooldowns {
		return
	}
	for i, act := range r.rs.Actions {
		if act.Cooldown == 0 {
			continue
		}
		if t, ok := r.state.lastQueued[actionKey{act.Name, c.Key}]; ok {
			c.State.LastActions[i] = t
		}
	}
}

// Keys calls fn with batches of at most batchSize keys of the customers
// with any assignment in the view, each once, in ascending byte order, as
// the SQL stores list them.
func (r *reader) Keys(ctx context.Context, batchSize int, fn func([]string) error) error {
	if r.closed {
		return errors.New("read the customers of " + r.rs.Name + ": the state reader is closed")
	}
	if batchSize <= 0 {
		batchSize = 1000
	}
	if r.state == nil {
		return ctx.Err()
	}
	seen := make(map[string]bool)
	var keys []string
	for k := range r.state.assignments {
		if !seen[k.customer] {
			seen[k.customer] = true
			keys = append(keys, k.customer)
		}
	}
	slices.Sort(keys)
	for from := 0; from < len(keys); from += batchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(slices.Clone(keys[from:min(from+batchSize, len(keys))])); err != nil {
			return err
		}
	}
	return ctx.Err()
}
