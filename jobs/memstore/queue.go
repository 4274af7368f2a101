package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.Queue = (*Store)(nil)

// Claim leases due actions of the destinations requested, by priority,
// due time and id, under the store's mutex, as the SQL stores' claim
// does. It implements jobs.Queue.
func (s *Store) Claim(ctx context.Context, req jobs.ClaimRequest) ([]jobs.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.Limit <= 0 || len(req.Destinations) == 0 {
		return nil, nil
	}
	now, until := stamp(req.Now), stamp(req.LeaseUntil)
	s.mu.Lock()
	defer s.mu.Unlock()
	var picked []int
	for i := range s.actions {
		if q := &s.actions[i]; claimable(q, now) && slices.Contains(req.Destinations, q.Destination) {
			picked = append(picked, i)
		}
	}
	sort.Slice(picked, func(i, j int) bool {
		a, b := &s.actions[picked[i]], &s.actions[picked[j]]
		switch {
		case a.Priority != b.Priority:
			return a.Priority < b.Priority
		case !a.DueAt.Equal(b.DueAt):
			return a.DueAt.Before(b.DueAt)
		}
		return a.ID < b.ID
	})
	picked = picked[:min(req.Limit, len(picked))]
	out := make([]jobs.Delivery, 0, len(picked))
	for _, i := range picked {
		q := &s.actions[i]
		q.Status, q.LeaseOwner, q.LeaseUntil = jobs.ActionClaimed, req.Owner, &until
		q.Attempts++
		out = append(out, jobs.Delivery{ID: q.ID, IdempotencyKey: q.Idempotent, RuleSet: q.RuleSet, Action: q.Action,
			Customer: q.Customer, Payload: append(json.RawMessage(nil), q.Payload...), Priority: q.Priority,
			CreatedAt: q.CreatedAt, DueAt: q.DueAt, RunID: q.RunID, Destination: q.Destination, Attempt: q.Attempts,
			FirstAttempt: s.firstAttemptLocked(q.ID)})
	}
	return out, nil
}

// claimable is the SQL stores' claim condition: an action with a
// destination, pending and due at now, or claimed with a lease run out.
func claimable(q *kernel.QueuedAction, now time.Time) bool {
	if q.Destination == "" {
		return false
	}
	switch q.Status {
	case jobs.ActionPending:
		return !q.DueAt.After(now)
	case jobs.ActionClaimed:
		return q.LeaseUntil != nil && q.LeaseUntil.Before(now)
	}
	return false
}

// Finish records an attempt and the action's next state if f.Owner still
// holds its lease; otherwise it changes nothing. It implements
// jobs.Queue.
func (s *Store) Finish(ctx context.Context, f jobs.Finished) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := kernel.CheckFinished(f); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.actionLocked(f.ID)
	if q == nil || q.Status != jobs.ActionClaimed || q.LeaseOwner != f.Owner {
		return false, nil
	}
	q.Status, q.LeaseOwner, q.LeaseUntil = f.Status, "", nil
	if f.Status == jobs.ActionPending {
		q.DueAt = stamp(f.NextDue)
	}
	if f.Attempt.Error != "" {
		q.LastError = stringPtr(f.Attempt.Error)
	}
	a := f.Attempt
	a.ActionID, a.Number, a.Worker = f.ID, q.Attempts, f.Owner
	a.Started, a.Duration = stamp(a.Started), a.Duration.Truncate(time.Microsecond)
	if s.attempts == nil {
		s.attempts = map[int64][]jobs.Attempt{}
	}
	s.attempts[f.ID] = append(s.attempts[f.ID], a)
	return true, nil
}

// actionLocked returns the queue row with the given id, or nil. s.mu is
// held.
func (s *Store) actionLocked(id int64) *kernel.QueuedAction {
	if id < 1 || id > int64(len(s.actions)) {
		return nil
	}
	return &s.actions[id-1]
}

// Attempts returns the recorded delivery attempts of an action, in order.
func (s *Store) Attempts(ctx context.Context, actionID int64) ([]jobs.Attempt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts[actionID]), nil
}

// RetryAction puts a dead, failed or cancelled action back in the queue,
// due at now; its attempt count stays.
func (s *Store) RetryAction(ctx context.Context, id int64, now time.Time) error {
	return s.move(ctx, "retry", id, kernel.RetryFrom, func(q *kernel.QueuedAction) {
		q.Status, q.DueAt = jobs.ActionPending, stamp(now)
	})
}

// CancelAction cancels a pending or claimed action.
func (s *Store) CancelAction(ctx context.Context, id int64) error {
	return s.move(ctx, "cancel", id, kernel.CancelFrom, func(q *kernel.QueuedAction) {
		q.Status = jobs.ActionCancelled
	})
}

// move applies set to action id, clearing its lease, if its status is
// one of from.
func (s *Store) move(ctx context.Context, verb string, id int64, from []string, set func(*kernel.QueuedAction)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.actionLocked(id)
	if q == nil {
		return fmt.Errorf("%s action %d: %w", verb, id, kernel.ErrNoAction)
	}
	if !slices.Contains(from, q.Status) {
		return kernel.WrongStatus(verb, id, q.Status, from)
	}
	set(q)
	q.LeaseOwner, q.LeaseUntil = "", nil
	return nil
}

// firstAttemptLocked is when the action's first recorded attempt started,
// or zero. s.mu is held.
func (s *Store) firstAttemptLocked(id int64) time.Time {
	var first time.Time
	for _, a := range s.attempts[id] {
		if first.IsZero() || a.Started.Before(first) {
			first = a.Started
		}
	}
	return first
}
