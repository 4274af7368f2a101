package memstore

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

var _ jobs.EffectsSource = (*Store)(nil)

// Decisions streams the rule set's decisions of [from, until] by
// customer, then creation time and id. It implements
// jobs.EffectsSource. It copies them under the store's mutex and calls
// fn without it, so that fn may read the store, as the merge of the
// moves does meanwhile.
func (s *Store) Decisions(ctx context.Context, ruleset string, from, until time.Time, fn func(*jobs.ActionDecision) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	from, until = stamp(from), stamp(until)
	var out []jobs.ActionDecision
	s.mu.Lock()
	for i := range s.actions {
		q := &s.actions[i]
		if q.RuleSet != ruleset || q.CreatedAt.Before(from) || q.CreatedAt.After(until) || !decided(q.Status) || strings.HasPrefix(q.Action, "sync.") {
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

// decided reports whether an action of the status was a decision:
// queued or held out, not suppressed or cancelled.
func decided(status string) bool {
	return status != jobs.ActionSuppressed && status != jobs.ActionCancelled
}

// Moves streams the rule set's history as of from by customer, then
// as-of and id. It implements jobs.EffectsSource, copying as Decisions
// does.
func (s *Store) Moves(ctx context.Context, ruleset string, from time.Time, fn func(*jobs.HistoryMove) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	from = stamp(from)
	type move struct {
		jobs.HistoryMove
		id int64
	}
	var out []move
	s.mu.Lock()
	for key, idx := range s.byCustomer {
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
