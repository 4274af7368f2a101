package kernel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
)

// ErrNoAction is returned (wrapped) for an action id the queue does not
// hold. It is jobs.ErrNoAction, which RecordOutcome returns too.
var ErrNoAction = jobs.ErrNoAction

// QueueSQL is jobs.Queue, and the queue commands of `tierflow actions`,
// on a SQL database: the actions and action_attempts tables of migration
// 0005, with times bound as the dialect stores them. Every time comes
// from the caller's clock, never the database's.
type QueueSQL struct {
	DB *sql.DB
	// Actions and AttemptsTable are the tables' qualified names.
	Actions, AttemptsTable string
	// Time binds a time as the dialect stores it; ScanTime reads one back.
	Time     func(time.Time) any
	ScanTime func(v any) (time.Time, error)
	// InKeys is the dialect's condition that expr is one of keys
	// (Dialect.InKeys).
	InKeys func(expr string, n int, keys []string) (cond string, arg any)
	// SkipLocked ends the claim's inner SELECT so that concurrent claims
	// skip each other's rows (" FOR UPDATE SKIP LOCKED"); empty where a
	// write locks the whole database (SQLite).
	SkipLocked string
	// OneStatement says the database runs a claim and a finish as single
	// statements (a data-modifying WITH on PostgreSQL), each atomic on
	// its own: one round trip instead of four. Where it is false (SQLite,
	// whose WITH cannot write), they run in a transaction.
	OneStatement bool
	// Redact removes secrets from errors.
	Redact func(error) error
	// State is the state rows' table: a cancelled action wakes its
	// customer there (CancelAction).
	State string
}

func (q *QueueSQL) err(what string, err error) error {
	if err == nil {
		return nil
	}
	if q.Redact != nil {
		err = q.Redact(err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// claimable is the condition of an action a claim at $2 may take.
const claimable = `destination IS NOT NULL AND ((status = 'pending' AND due_at <= $2) OR (status = 'claimed' AND lease_until < $2))`

// Claim implements jobs.Queue.Claim in one statement in a short
// transaction (on SQLite, BEGIN IMMEDIATE: the write lock from the
// start): the inner SELECT picks the actions (skipping rows other claims
// lock, on PostgreSQL), the UPDATE leases them.
func (q *QueueSQL) Claim(ctx context.Context, req jobs.ClaimRequest) ([]jobs.Delivery, error) {
	if req.Limit <= 0 || len(req.Destinations) == 0 {
		return nil, nil
	}
	if q.OneStatement {
		out, err := q.claim(ctx, q.DB, req)
		SortDeliveries(out)
		return out, err
	}
	tx, err := q.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, q.err("claim actions", err)
	}
	defer tx.Rollback() //nolint:errcheck
	out, err := q.claim(ctx, tx, req)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, q.err("claim actions: commit", err)
	}
	SortDeliveries(out)
	return out, nil
}

func (q *QueueSQL) claim(ctx context.Context, tx Queryer, req jobs.ClaimRequest) ([]jobs.Delivery, error) {
	// One destination (the worker claims one at a time) is an equality,
	// so that the claim index is read in its order and LIMIT stops the
	// scan; a list (= ANY) makes PostgreSQL sort every claimable row.
	in, dests := q.InKeys("destination", 1, req.Destinations)
	if len(req.Destinations) == 1 {
		in, dests = "destination = $1", req.Destinations[0]
	}
	rows, err := tx.QueryContext(ctx, `UPDATE `+q.Actions+`
		SET status = 'claimed', lease_owner = $3, lease_until = $4, attempts = attempts + 1, claimed_at = $2
		WHERE id IN (
			SELECT id FROM `+q.Actions+` WHERE `+in+` AND `+claimable+`
			ORDER BY priority, due_at, id LIMIT $5`+q.SkipLocked+`
		)
		RETURNING id, idempotency_key, ruleset, action, customer_key, payload, priority, created_at, due_at, run_id, destination, attempts,
		    (SELECT min(t.started_at) FROM `+q.AttemptsTable+` t WHERE t.action_id = actions.id)`,
		dests, q.Time(req.Now), req.Owner, q.Time(req.LeaseUntil), req.Limit)
	if err != nil {
		return nil, q.err("claim actions", err)
	}
	defer rows.Close()
	var out []jobs.Delivery
	for rows.Next() {
		var d jobs.Delivery
		var payload []byte
		var created, due, first any
		if err := rows.Scan(&d.ID, &d.IdempotencyKey, &d.RuleSet, &d.Action, &d.Customer, &payload, &d.Priority,
			&created, &due, &d.RunID, &d.Destination, &d.Attempt, &first); err != nil {
			return nil, q.err("claim actions", err)
		}
		if first != nil {
			if d.FirstAttempt, err = q.ScanTime(first); err != nil {
				return nil, q.err("claim actions", err)
			}
		}
		d.Payload = payload
		if d.CreatedAt, err = q.ScanTime(created); err != nil {
			return nil, q.err("claim actions", err)
		}
		if d.DueAt, err = q.ScanTime(due); err != nil {
			return nil, q.err("claim actions", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, q.err("claim actions", err)
	}
	return out, nil
}

// SortDeliveries puts claimed actions in claim order: priority, due time,
// id (RETURNING keeps no order).
func SortDeliveries(ds []jobs.Delivery) {
	sort.Slice(ds, func(i, j int) bool {
		a, b := &ds[i], &ds[j]
		switch {
		case a.Priority != b.Priority:
			return a.Priority < b.Priority
		case !a.DueAt.Equal(b.DueAt):
			return a.DueAt.Before(b.DueAt)
		}
		return a.ID < b.ID
	})
}

// CheckFinished reports what is wrong with f, before anything is written.
func CheckFinished(f jobs.Finished) error {
	switch f.Status {
	case jobs.ActionDone, jobs.ActionDead:
	case jobs.ActionPending:
		if f.NextDue.IsZero() {
			return fmt.Errorf("finish action %d: a retry needs its next due time", f.ID)
		}
	default:
		return fmt.Errorf("finish action %d: status %q is not %s, %s or %s", f.ID, f.Status, jobs.ActionDone, jobs.ActionPending, jobs.ActionDead)
	}
	if f.Owner == "" {
		return fmt.Errorf("finish action %d: no owner", f.ID)
	}
	return nil
}

// Finish implements jobs.Queue.Finish in one transaction: the UPDATE
// takes the action only while f.Owner holds its lease, and the attempt
// row is written only then. The attempt is recorded under the action's
// attempt count, the number its claim handed out.
func (q *QueueSQL) Finish(ctx context.Context, f jobs.Finished) (bool, error) {
	if err := CheckFinished(f); err != nil {
		return false, err
	}
	what := fmt.Sprintf("finish action %d", f.ID)
	var due, finished any
	if f.Status == jobs.ActionPending {
		due = q.Time(f.NextDue)
	} else {
		finished = q.Time(f.Attempt.Started.Add(f.Attempt.Duration))
	}
	if q.OneStatement {
		return q.finishOne(ctx, f, due, finished)
	}
	tx, err := q.DB.BeginTx(ctx, nil)
	if err != nil {
		return false, q.err(what, err)
	}
	defer tx.Rollback() //nolint:errcheck
	var number int
	err = tx.QueryRowContext(ctx, `UPDATE `+q.Actions+`
		SET status = $3, due_at = coalesce($4, due_at), finished_at = coalesce($5, finished_at),
		    last_error = coalesce($6, last_error), lease_owner = NULL, lease_until = NULL
		WHERE id = $1 AND status = 'claimed' AND lease_owner = $2
		RETURNING attempts`, f.ID, f.Owner, f.Status, due, finished, nullText(f.Attempt.Error)).Scan(&number)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, q.err(what, err)
	}
	a := f.Attempt
	var status any
	if a.Status != 0 {
		status = a.Status
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+q.AttemptsTable+`
		(action_id, attempt, worker, started_at, duration_us, http_status, error, response)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		f.ID, number, f.Owner, q.Time(a.Started), a.Duration.Microseconds(), status, nullText(a.Error), nullText(a.Response)); err != nil {
		return false, q.err(what+": record the attempt", err)
	}
	if err := tx.Commit(); err != nil {
		return false, q.err(what+": commit", err)
	}
	return true, nil
}

// finishOne is Finish as one statement: the UPDATE, fenced by the lease,
// feeds the attempt's INSERT, so both happen or neither does.
func (q *QueueSQL) finishOne(ctx context.Context, f jobs.Finished, due, finished any) (bool, error) {
	a := f.Attempt
	var status any
	if a.Status != 0 {
		status = a.Status
	}
	res, err := q.DB.ExecContext(ctx, `WITH u AS (
		UPDATE `+q.Actions+`
		SET status = $3, due_at = coalesce($4, due_at), finished_at = coalesce($5, finished_at),
		    last_error = coalesce($6, last_error), lease_owner = NULL, lease_until = NULL
		WHERE id = $1 AND status = 'claimed' AND lease_owner = $2
		RETURNING id, attempts)
		INSERT INTO `+q.AttemptsTable+` (action_id, attempt, worker, started_at, duration_us, http_status, error, response)
		SELECT id, attempts, $2, $7, $8, $9, $6, $10 FROM u`,
		f.ID, f.Owner, f.Status, due, finished, nullText(a.Error), q.Time(a.Started), a.Duration.Microseconds(), status, nullText(a.Response))
	if err != nil {
		return false, q.err(fmt.Sprintf("finish action %d", f.ID), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, q.err(fmt.Sprintf("finish action %d", f.ID), err)
	}
	return n == 1, nil
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Attempts returns the recorded attempts of an action, in order.
func (q *QueueSQL) Attempts(ctx context.Context, actionID int64) ([]jobs.Attempt, error) {
	what := fmt.Sprintf("read the attempts of action %d", actionID)
	rows, err := q.DB.QueryContext(ctx, `SELECT action_id, attempt, worker, started_at, duration_us, http_status, error, response
		FROM `+q.AttemptsTable+` WHERE action_id = $1 ORDER BY attempt, id`, actionID)
	if err != nil {
		return nil, q.err(what, err)
	}
	defer rows.Close()
	var out []jobs.Attempt
	for rows.Next() {
		var a jobs.Attempt
		var started any
		var us int64
		var status sql.NullInt64
		var msg, resp sql.NullString
		if err := rows.Scan(&a.ActionID, &a.Number, &a.Worker, &started, &us, &status, &msg, &resp); err != nil {
			return nil, q.err(what, err)
		}
		if a.Started, err = q.ScanTime(started); err != nil {
			return nil, q.err(what, err)
		}
		a.Duration = time.Duration(us) * time.Microsecond
		a.Status, a.Error, a.Response = int(status.Int64), msg.String, resp.String
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, q.err(what, err)
	}
	return out, nil
}

// Statuses RetryAction and CancelAction change.
var (
	RetryFrom  = []string{jobs.ActionDead, jobs.ActionFailed, jobs.ActionCancelled}
	CancelFrom = []string{jobs.ActionPending, jobs.ActionClaimed}
)

// RetryAction puts a dead, failed or cancelled action back in the queue,
// due at now. Its attempt count stays: the attempts recorded keep their
// numbers.
func (q *QueueSQL) RetryAction(ctx context.Context, id int64, now time.Time) error {
	return q.move(ctx, "retry", id, RetryFrom, `status = 'pending', due_at = $2, finished_at = NULL, lease_owner = NULL, lease_until = NULL`, nil, q.Time(now))
}

// CancelAction cancels a pending or claimed action: no worker claims it
// again, and the Finish of a worker delivering it changes nothing.
//
// A cancelled action no longer counts against the contact limits, which
// may free another action of the customer's: the customer's mark is set
// to wake on the next run (engine.EveryRun), so that an incremental run
// evaluates it.
func (q *QueueSQL) CancelAction(ctx context.Context, id int64) error {
	return q.move(ctx, "cancel", id, CancelFrom, `status = 'cancelled', lease_owner = NULL, lease_until = NULL`, q.wake)
}

// wake sets the mark of action id's customer to wake on the next run, in
// tx.
func (q *QueueSQL) wake(ctx context.Context, tx *sql.Tx, id int64) error {
	if q.State == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE `+q.State+` SET wake_at = $1 WHERE ruleset = (SELECT ruleset FROM `+q.Actions+` WHERE id = $2)`+
		` AND customer_key = (SELECT customer_key FROM `+q.Actions+` WHERE id = $2)`, q.Time(engine.EveryRun), id)
	if err != nil {
		return fmt.Errorf("wake its customer: %w", err)
	}
	return nil
}

// move sets set on action id if its status is one of from, then runs
// then (when set) in the same transaction, and says why not otherwise.
func (q *QueueSQL) move(ctx context.Context, verb string, id int64, from []string, set string,
	then func(context.Context, *sql.Tx, int64) error, args ...any) error {
	what := fmt.Sprintf("%s action %d", verb, id)
	tx, err := q.DB.BeginTx(ctx, nil)
	if err != nil {
		return q.err(what, err)
	}
	defer tx.Rollback() //nolint:errcheck
	res, err := tx.ExecContext(ctx, `UPDATE `+q.Actions+` SET `+set+` WHERE id = $1 AND status IN ('`+strings.Join(from, "', '")+`')`,
		append([]any{id}, args...)...)
	if err != nil {
		return q.err(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return q.err(what, err)
	}
	if n == 1 {
		if then != nil {
			if err := then(ctx, tx, id); err != nil {
				return q.err(what, err)
			}
		}
		return q.err(what+": commit", tx.Commit())
	}
	var status string
	err = tx.QueryRowContext(ctx, `SELECT status FROM `+q.Actions+` WHERE id = $1`, id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNoAction)
	}
	if err != nil {
		return q.err(what, err)
	}
	return WrongStatus(verb, id, status, from)
}

// WrongStatus is the error of a retry or cancel of an action whose status
// does not allow it.
func WrongStatus(verb string, id int64, status string, from []string) error {
	return fmt.Errorf("%s action %d: it is %s; only %s actions can be %s", verb, id, status,
		orList(from), map[string]string{"retry": "retried", "cancel": "cancelled"}[verb])
}

func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
