package kernel

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// CustomerRecord reads what a SQL store keeps of customer key in rule set
// ruleset, in one read transaction on db: the assignments with the run
// that last wrote each, the history by id and the queue rows by id. It is
// jobs.CustomerRecordReader for both stores, each lookup by the primary
// key or the (ruleset, customer_key) index of its table.
func CustomerRecord(ctx context.Context, db *sql.DB, d *Dialect, t Tables, ruleset, key string, secrets Secrets) (*jobs.CustomerRecord, error) {
	tx, err := d.BeginRead(ctx, db)
	if err != nil {
		return nil, secrets.Err(err)
	}
	defer tx.Rollback() //nolint:errcheck
	rec := &jobs.CustomerRecord{}
	for _, read := range []struct {
		what string
		fn   func(context.Context, *sql.Tx, *Dialect, Tables, string, string, *jobs.CustomerRecord) error
	}{{"assignments", recordAssignments}, {"history", recordMoves}, {"actions", recordActions}} {
		if err := read.fn(ctx, tx, d, t, ruleset, key, rec); err != nil {
			return nil, fmt.Errorf("%s: %w", read.what, secrets.Err(err))
		}
	}
	return rec, nil
}

func recordAssignments(ctx context.Context, tx *sql.Tx, d *Dialect, t Tables, ruleset, key string, rec *jobs.CustomerRecord) error {
	rows, err := tx.QueryContext(ctx, "SELECT segmentation, segment, since, pending_since, run_id FROM "+t.Assignments+
		" WHERE ruleset = $1 AND customer_key = $2 ORDER BY segmentation", ruleset, key)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a jobs.RecordedAssignment
		var since, pending any
		if err := rows.Scan(&a.Segmentation, &a.Segment, &since, &pending, &a.RunID); err != nil {
			return err
		}
		if a.Since, err = d.Time(since); err != nil {
			return err
		}
		if a.PendingSince, err = d.Time(pending); err != nil {
			return err
		}
		rec.Assignments = append(rec.Assignments, a)
	}
	return rows.Err()
}

func recordMoves(ctx context.Context, tx *sql.Tx, d *Dialect, t Tables, ruleset, key string, rec *jobs.CustomerRecord) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, segmentation, coalesce(from_segment, ''), to_segment, matched, reason, as_of, run_id FROM "+t.History+
		" WHERE ruleset = $1 AND customer_key = $2 ORDER BY id", ruleset, key)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var m jobs.RecordedMove
		var asOf any
		if err := rows.Scan(&m.ID, &m.Segmentation, &m.From, &m.To, &m.Matched, &m.Reason, &asOf, &m.RunID); err != nil {
			return err
		}
		if m.AsOf, err = d.Time(asOf); err != nil {
			return err
		}
		rec.Moves = append(rec.Moves, m)
	}
	return rows.Err()
}

func recordActions(ctx context.Context, tx *sql.Tx, d *Dialect, t Tables, ruleset, key string, rec *jobs.CustomerRecord) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, action, status, priority, created_at, due_at, payload, run_id, coalesce(outcome, ''), outcome_at, coalesce(note, '') FROM "+
		t.Actions+" WHERE ruleset = $1 AND customer_key = $2 ORDER BY id", ruleset, key)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var q jobs.RecordedAction
		var created, due, outcomeAt any
		var payload []byte
		if err := rows.Scan(&q.ID, &q.Action, &q.Status, &q.Priority, &created, &due, &payload, &q.RunID, &q.Outcome, &outcomeAt, &q.Note); err != nil {
			return err
		}
		q.Payload = payload
		for _, tm := range []struct {
			dst *time.Time
			src any
		}{{&q.Created, created}, {&q.Due, due}, {&q.OutcomeAt, outcomeAt}} {
			if *tm.dst, err = d.Time(tm.src); err != nil {
				return err
			}
		}
		rec.Actions = append(rec.Actions, q)
	}
	return rows.Err()
}
