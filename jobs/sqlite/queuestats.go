package sqlite

import (
	"context"
	"time"

	"github.com/tierflow/tierflow/jobs/kernel"
)

// QueueStats counts the queue's pending, claimed and dead actions per
// destination, with the oldest due time of the pending ones due at now.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (map[string]kernel.QueueStat, error) {
	return s.queueSQL().QueueStats(ctx, now)
}
