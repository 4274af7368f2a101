package kernel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
)

// CustomerRecord reads what a SQL store keeps of customer key in rule set
// ruleset, in one read transaction on db: the assignments with the run
// that last wrote each (from the customer's state row), the history by id
// and the queue rows by id. It is jobs.CustomerRecordReader for both
// stores, each lookup by the primary key or the (ruleset, customer_key)
// index of its table.
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

// recordAssignments reads the customer's state row: a segment, with its
// dates and the run that last wrote it, for every segmentation of the
// rule set's layout in which the customer has one, by name (those the
// rules have since removed too, as the old assignments table kept them).
func recordAssignments(ctx context.Context, tx *sql.Tx, d *Dialect, t Tables, ruleset, key string, rec *jobs.CustomerRecord) error {
	lay, err := ReadLayout(ctx, tx, t, ruleset)
	if err != nil {
		return err
	}
	names := lay.names(kindSegmentation)
	if len(names) == 0 {
		return nil
	}
	var cols []string
	for _, n := range names {
		p := lay.Segment(n)
		for _, c := range []string{"segments", "since", "pending_since", "run_ids"} {
			cols = append(cols, d.State.Elem("st."+c, p))
		}
	}
	vals := make([]any, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	err = tx.QueryRowContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+t.State+" st WHERE st.ruleset = $1 AND st.customer_key = $2",
		ruleset, key).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	for i, n := range names {
		v := vals[4*i : 4*i+4]
		if v[0] == nil {
			continue
		}
		a := jobs.RecordedAssignment{Segmentation: n, Assignment: engine.Assignment{Segment: keyString(v[0])}}
		if a.Since, err = d.Time(v[1]); err != nil {
			return err
		}
		if a.PendingSince, err = d.Time(v[2]); err != nil {
			return err
		}
		if a.RunID, err = int64Value(v[3]); err != nil {
			return err
		}
		rec.Assignments = append(rec.Assignments, a)
	}
	return nil
}

// int64Value reads a run id as the driver returns it: an integer, or its
// text.
func int64Value(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case nil:
		return 0, nil
	}
	n, err := strconv.ParseInt(keyString(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stored run id %v: %w", v, err)
	}
	return n, nil
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
