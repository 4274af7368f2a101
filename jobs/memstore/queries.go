package memstore

import (
	"context"
	"encoding/json"
	"maps"
	"sort"

	"github.com/tierflow/tierflow/jobs/kernel"
)

// Default limits of the queries, as in the SQL stores.
const (
	defaultActionLimit = 50
	defaultRunLimit    = 20
)

// History returns a customer's moves, oldest first; ruleset "" means all.
func (s *Store) History(ctx context.Context, ruleset, customer string) ([]kernel.HistoryEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []kernel.HistoryEntry
	for _, i := range s.byCustomer[customer] {
		if h := s.history[i]; ruleset == "" || h.RuleSet == ruleset {
			out = append(out, h)
		}
	}
	return out, nil
}

// Actions lists queued actions, most urgent first: by priority, due
// time and id. Empty filter fields match everything; the limit defaults
// to 50.
func (s *Store) Actions(ctx context.Context, f kernel.ActionFilter) ([]kernel.QueuedAction, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.Limit <= 0 {
		f.Limit = defaultActionLimit
	}
	s.mu.Lock()
	var out []kernel.QueuedAction
	for _, q := range s.actions {
		if match(f.RuleSet, q.RuleSet) && match(f.Action, q.Action) && match(f.Customer, q.Customer) && match(f.Status, q.Status) &&
			match(f.Destination, q.Destination) && (f.ID == 0 || f.ID == q.ID) {
			out = append(out, q)
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		switch {
		case a.Priority != b.Priority:
			return a.Priority < b.Priority
		case !a.DueAt.Equal(b.DueAt):
			return a.DueAt.Before(b.DueAt)
		}
		return a.ID < b.ID
	})
	out = out[:min(f.Limit, len(out))]
	for i := range out {
		// The caller may change what it gets; the queue must not change.
		out[i].Payload = append(json.RawMessage(nil), out[i].Payload...)
		if u := out[i].LeaseUntil; u != nil {
			cp := *u
			out[i].LeaseUntil = &cp
		}
		if at := out[i].OutcomeAt; at != nil {
			cp := *at
			out[i].OutcomeAt = &cp
		}
		out[i].Segments = maps.Clone(out[i].Segments)
	}
	return out, nil
}

func match(want, got string) bool { return want == "" || want == got }

// Runs lists the most recent runs, newest first by start time and id;
// ruleset "" means all, and the limit defaults to 20.
func (s *Store) Runs(ctx context.Context, ruleset string, limit int) ([]kernel.Run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = defaultRunLimit
	}
	s.mu.Lock()
	var out []kernel.Run
	for _, r := range s.runs {
		if match(ruleset, r.RuleSet) {
			out = append(out, r)
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if !a.Started.Equal(b.Started) {
			return a.Started.After(b.Started)
		}
		return a.ID > b.ID
	})
	return out[:min(limit, len(out))], nil
}
