package kernel

import (
	"context"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// ReportSQL is jobs.ReportSource on a SQL store: the run record with
// each run's stored report, and the queue's counts by action, status and
// segments, grouped in the database so that a year of actions comes back
// as a few hundred rows.
type ReportSQL struct {
	DB      Queryer
	Dialect *Dialect
	// Runs and Actions are the qualified names of the run record and the
	// action queue.
	Runs, Actions string
	Secrets       Secrets
}

var _ jobs.ReportSource = (*ReportSQL)(nil)

// runRecordsSQL selects the runs of rule set $1 started in [$2, $3],
// oldest first, with their stored reports.
const runRecordsSQL = `SELECT id, kind, as_of, slot, status, started_at, finished_at, customers, changed, actions, errors,
	    coalesce(error, ''), detail
	FROM %s
	WHERE ruleset = $1 AND as_of >= $2 AND as_of <= $3
	ORDER BY as_of, started_at, id`

// RunRecords implements jobs.ReportSource. It decodes one stored report
// at a time: a report that cannot be read is an error naming its run.
func (r *ReportSQL) RunRecords(ctx context.Context, ruleset string, from, until time.Time, fn func(*jobs.RunRecord) error) error {
	rows, err := r.DB.QueryContext(ctx, fmt.Sprintf(runRecordsSQL, r.Runs), ruleset, r.Dialect.TimeArg(from), r.Dialect.TimeArg(until))
	if err != nil {
		return fmt.Errorf("read the runs of %s: %w", ruleset, r.Secrets.Err(err))
	}
	defer rows.Close()
	var detail []byte
	var asOf, slot, started, finished any
	for rows.Next() {
		var rec jobs.RunRecord
		var status string
		if err := rows.Scan(&rec.ID, &rec.Kind, &asOf, &slot, &status, &started, &finished, &rec.Customers, &rec.Changed,
			&rec.Actions, &rec.Errors, &rec.Error, &detail); err != nil {
			return fmt.Errorf("read the runs of %s: %w", ruleset, r.Secrets.Err(err))
		}
		rec.Status = jobs.Status(status)
		if err := r.times(&rec, asOf, slot, started, finished); err != nil {
			return fmt.Errorf("run %d: %w", rec.ID, err)
		}
		if rec.Report, err = DecodeReport(detail); err != nil {
			return fmt.Errorf("run %d: %w", rec.ID, err)
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the runs of %s: %w", ruleset, r.Secrets.Err(err))
	}
	return nil
}

// times converts a run's times as the driver returns them.
func (r *ReportSQL) times(rec *jobs.RunRecord, asOf, slot, started, finished any) error {
	var err error
	for _, t := range []struct {
		dst *time.Time
		src any
	}{{&rec.AsOf, asOf}, {&rec.Slot, slot}, {&rec.Started, started}, {&rec.Finished, finished}} {
		if *t.dst, err = r.Dialect.Time(t.src); err != nil {
			return err
		}
	}
	return nil
}

// actionCountsSQL counts the actions of rule set $1 created in [$2, $3]
// by action, status and segments, the JSON text as the column keeps it:
// PostgreSQL's jsonb prints its keys in one order, and SQLite keeps the
// text tierflow wrote, whose keys Go's encoder sorts, so the same classes
// are the same text. Segment syncs are no actions of the rule set.
const actionCountsSQL = `SELECT action, status, %[2]s, count(*)
	FROM %[1]s
	WHERE ruleset = $1 AND created_at >= $2 AND created_at <= $3 AND action NOT LIKE 'sync.%%'
	GROUP BY action, status, %[2]s`

// ActionCounts implements jobs.ReportSource. Each distinct segments
// text is decoded once; the maps it passes are shared between counts.
func (r *ReportSQL) ActionCounts(ctx context.Context, ruleset string, from, until time.Time, fn func(*jobs.ActionCount) error) error {
	q := fmt.Sprintf(actionCountsSQL, r.Actions, r.Dialect.KeyText("segments"))
	rows, err := r.DB.QueryContext(ctx, q, ruleset, r.Dialect.TimeArg(from), r.Dialect.TimeArg(until))
	if err != nil {
		return fmt.Errorf("count the actions of %s: %w", ruleset, r.Secrets.Err(err))
	}
	defer rows.Close()
	var c jobs.ActionCount
	var segments []byte
	cache := segmentsCache{}
	for rows.Next() {
		if err := rows.Scan(&c.Action, &c.Status, &segments, &c.Count); err != nil {
			return fmt.Errorf("count the actions of %s: %w", ruleset, r.Secrets.Err(err))
		}
		if c.Segments, err = cache.decode(segments); err != nil {
			return fmt.Errorf("count the actions of %s: %w", ruleset, err)
		}
		if err := fn(&c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count the actions of %s: %w", ruleset, r.Secrets.Err(err))
	}
	return nil
}
