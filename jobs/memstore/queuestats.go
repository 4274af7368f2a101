package memstore

import (
	"context"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// QueueStats counts the queue's pending, claimed and dead actions per
// destination, with the oldest due time of the pending ones due at now,
// as the SQL stores' query does.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (map[string]kernel.QueueStat, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now = stamp(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]kernel.QueueStat{}
	for i := range s.actions {
		q := &s.actions[i]
		if q.Destination == "" {
			continue
		}
		st := out[q.Destination]
		switch q.Status {
		case jobs.ActionPending:
			st.Pending++
			if !q.DueAt.After(now) && (st.OldestDue.IsZero() || q.DueAt.Before(st.OldestDue)) {
				st.OldestDue = q.DueAt
			}
		case jobs.ActionClaimed:
			st.Claimed++
		case jobs.ActionDead:
			st.Dead++
		}
		out[q.Destination] = st
	}
	return out, nil
}
