package kernel

import (
	"context"
	"fmt"
	"time"
)

// QueueStat is one destination's share of the action queue: how many of
// its actions are pending, claimed and dead, and the due time of the
// oldest pending action that is due (zero when none is).
type QueueStat struct {
	Pending, Claimed, Dead int64
	OldestDue              time.Time
}

// queueStatsSQL counts the queue by destination in one pass; $1 is the
// time an action must be due by to count for the oldest due time.
const queueStatsSQL = `SELECT destination,
	count(CASE WHEN status = 'pending' THEN 1 END),
	count(CASE WHEN status = 'claimed' THEN 1 END),
	count(CASE WHEN status = 'dead' THEN 1 END),
	min(CASE WHEN status = 'pending' AND due_at <= $1 THEN due_at END)
	FROM %s WHERE destination IS NOT NULL GROUP BY destination`

// QueueStats counts the queue's actions of every destination that has
// any, as of now (the caller's clock). Destinations without actions are
// absent from the map.
func (q *QueueSQL) QueueStats(ctx context.Context, now time.Time) (map[string]QueueStat, error) {
	rows, err := q.DB.QueryContext(ctx, queueStatsQuery(q.Actions), q.Time(now))
	if err != nil {
		return nil, q.err("queue stats", err)
	}
	defer rows.Close()
	out := map[string]QueueStat{}
	for rows.Next() {
		var dest string
		var st QueueStat
		var oldest any
		if err := rows.Scan(&dest, &st.Pending, &st.Claimed, &st.Dead, &oldest); err != nil {
			return nil, q.err("queue stats", err)
		}
		if oldest != nil {
			if st.OldestDue, err = q.ScanTime(oldest); err != nil {
				return nil, q.err("queue stats", err)
			}
		}
		out[dest] = st
	}
	if err := rows.Err(); err != nil {
		return nil, q.err("queue stats", err)
	}
	return out, nil
}

// queueStatsQuery is queueStatsSQL on the actions table.
func queueStatsQuery(actions string) string {
	return fmt.Sprintf(queueStatsSQL, actions)
}
