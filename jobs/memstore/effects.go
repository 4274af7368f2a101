package memstore

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.EffectsSource = (*Store)(nil)

// Decisions streams the rule set's decisions of [from, until] by
// customer, then creation time and id. It implements
// jobs.EffectsSource. It copies them under the store's mutex and calls
// fn without it, so that fn may read the store, as the merge of the
// moves does meanwhile.
func (s *Store) Decisions(ctx context.Context, eq jobs.EffectsQuery, fn func(*jobs.ActionDecision) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var out []jobs.ActionDecision
	s.mu.Lock()
	for i := range s.actions {
		q := &s.actions[i]
		if !s.selects(eq, q) {
			continue
		}
		segs := maps.Clone(map[string]string(q.Segments))
		if segs == nil {
			segs = map[string]string{}
		}
		out = append(out, jobs.ActionDecision{ID: q.ID, Action: q.Action, Customer: q.Customer, Status: q.Status,
			At: q.CreatedAt, Segments: segs, Outcome: q.Outcome})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b jobs.ActionDecision) int {
		return cmp.Or(strings.Compare(a.Customer, b.Customer), a.At.Compare(b.At), cmp.Compare(a.ID, b.ID))
	})
	for i := range out {
		if err := fn(&out[i]); err != nil {
			return err
		}
	}
	return nil
}

// selects reports whether eq selects queued action q.
func (s *Store) selects(eq jobs.EffectsQuery, q *kernel.QueuedAction) bool {
	from, until := stamp(eq.From), stamp(eq.Until)
	return q.RuleSet == eq.RuleSet && !q.CreatedAt.Before(from) && !q.CreatedAt.After(until) && decided(q.Status) &&
		!strings.HasPrefix(q.Action, "sync.") && (eq.Actions == nil || slices.Contains(eq.Actions, q.Action))
}

// decided reports whether an action of the status was a decision:
// queued or held out, not suppressed or cancelled.
func decided(status string) bool {
	return status != jobs.ActionSuppressed && status != jobs.ActionCancelled
}

// Moves streams the rule set's history as of from by customer, then
// as-of and id. It implements jobs.EffectsSource, copying as Decisions
// does.
func (s *Store) Moves(ctx context.Context, eq jobs.EffectsQuery, fn func(*jobs.HistoryMove) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ruleset, from := eq.RuleSet, stamp(eq.From)
	type move struct {
		jobs.HistoryMove
		id int64
	}
	var out []move
	s.mu.Lock()
	decided := map[string]bool{}
	for i := range s.actions {
		if q := &s.actions[i]; s.selects(eq, q) {
			decided[q.Customer] = true
		}
	}
	for key, idx := range s.byCustomer {
		if !decided[key] {
			continue
		}
		for _, i := range idx {
			h := &s.history[i]
			if h.RuleSet != ruleset || h.AsOf.Before(from) {
				continue
			}
			m := move{HistoryMove: jobs.HistoryMove{Customer: key, Segmentation: h.Segmentation, To: h.To, At: h.AsOf}, id: h.ID}
			if h.From != nil {
				m.From = *h.From
			}
			out = append(out, m)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b move) int {
		return cmp.Or(strings.Compare(a.Customer, b.Customer), a.At.Compare(b.At), cmp.Compare(a.id, b.id))
	})
	for i := range out {
		if err := fn(&out[i].HistoryMove); err != nil {
			return err
		}
	}
	return nil
}
