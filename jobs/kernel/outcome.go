package kernel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/tierflow/tierflow/jobs"
)

var _ jobs.OutcomeStore = (*QueueSQL)(nil)

// OutcomeFrom are the statuses of actions that can take an outcome: a
// withheld, dead or cancelled one cannot.
var OutcomeFrom = []string{jobs.ActionPending, jobs.ActionClaimed, jobs.ActionDone, jobs.ActionFailed}

// outcomeFrom is OutcomeFrom as a SQL list.
var outcomeFrom = "('" + strings.Join(OutcomeFrom, "', '") + "')"

// ActionRef returns what RecordOutcome needs to know of action id, or an
// error wrapping jobs.ErrNoAction.
func (q *QueueSQL) ActionRef(ctx context.Context, id int64) (jobs.ActionRef, error) {
	ref := jobs.ActionRef{ID: id}
	err := q.DB.QueryRowContext(ctx, `SELECT ruleset, action, customer_key, status FROM `+q.Actions+` WHERE id = $1`, id).
		Scan(&ref.RuleSet, &ref.Action, &ref.Customer, &ref.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return ref, fmt.Errorf("action %d: %w", id, jobs.ErrNoAction)
	}
	return ref, q.err(fmt.Sprintf("read action %d", id), err)
}

// CheckReport reports what is wrong with r for a store, before anything
// is written: its status and time. Whether its outcome suits the action
// is jobs.CheckOutcome's to say.
func CheckReport(r jobs.OutcomeReport) error {
	switch {
	case r.Status != jobs.ActionDone && r.Status != jobs.ActionFailed:
		return fmt.Errorf("%w: status %q of action %d is not %s or %s", jobs.ErrBadOutcome, r.Status, r.ID, jobs.ActionDone, jobs.ActionFailed)
	case r.At.IsZero():
		return fmt.Errorf("%w: no time given for action %d", jobs.ErrBadOutcome, r.ID)
	case r.Status == jobs.ActionFailed && r.Outcome != "":
		return fmt.Errorf("%w: a failed follow-up has no outcome (got %q)", jobs.ErrBadOutcome, r.Outcome)
	}
	return nil
}

// RecordOutcome writes r onto its action in one UPDATE, if the action's
// status is one of OutcomeFrom: status, outcome (NULL for none), note,
// outcome_at and finished_at (r.At), and no lease, so that the Finish of
// a worker still delivering it changes nothing. When no row changes it
// says why: an error wrapping jobs.ErrNoAction, or jobs.ErrNotFinishable
// with the action's status. It implements jobs.OutcomeStore.
func (q *QueueSQL) RecordOutcome(ctx context.Context, r jobs.OutcomeReport) error {
	if err := CheckReport(r); err != nil {
		return err
	}
	what := fmt.Sprintf("record the outcome of action %d", r.ID)
	tx, err := q.DB.BeginTx(ctx, nil)
	if err != nil {
		return q.err(what, err)
	}
	defer tx.Rollback() //nolint:errcheck
	at := q.Time(r.At)
	res, err := tx.ExecContext(ctx, `UPDATE `+q.Actions+`
		SET status = $2, outcome = $3, note = $4, outcome_at = $5, finished_at = $5, lease_owner = NULL, lease_until = NULL
		WHERE id = $1 AND status IN `+outcomeFrom, r.ID, r.Status, nullText(r.Outcome), nullText(r.Note), at)
	if err != nil {
		return q.err(what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return q.err(what, err)
	}
	if n == 1 {
		return q.err(what+": commit", tx.Commit())
	}
	var status string
	err = tx.QueryRowContext(ctx, `SELECT status FROM `+q.Actions+` WHERE id = $1`, r.ID).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, jobs.ErrNoAction)
	}
	if err != nil {
		return q.err(what, err)
	}
	return NotFinishable(r.ID, status)
}

// NotFinishable is the error of an outcome reported for an action whose
// status takes none.
func NotFinishable(id int64, status string) error {
	return fmt.Errorf("%w: action %d is %s; only %s actions take an outcome", jobs.ErrNotFinishable, id, status, orList(OutcomeFrom))
}
