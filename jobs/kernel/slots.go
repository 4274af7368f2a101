package kernel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// SlotSQL is jobs.SlotStore on a SQL database: the slots and runs tables
// of migrations 0002 and 0004, with times bound as the dialect stores
// them. Every time comes from the caller's clock, never the database's.
type SlotSQL struct {
	DB *sql.DB
	// Slots and Runs are the tables' qualified names.
	Slots, Runs string
	// Time binds a time as the dialect stores it; ScanTime reads one back.
	Time     func(time.Time) any
	ScanTime func(v any) (time.Time, error)
	// ForUpdate ends a SELECT that locks the row it reads for the rest of
	// the transaction (" FOR UPDATE"); empty where a write transaction
	// locks the whole database (SQLite's BEGIN IMMEDIATE).
	ForUpdate string
	// Redact removes secrets from errors.
	Redact func(error) error
}

// missedError is the error of a missed slot's run record.
const missedError = "no replica ran this slot within the starting deadline"

// finishedRun is the SQL condition of a run that ran to an outcome: it
// settles its slot.
const finishedRun = `status IN ('succeeded', 'blocked', 'failed')`

func (q *SlotSQL) err(what string, err error) error {
	if err == nil {
		return nil
	}
	if q.Redact != nil {
		err = q.Redact(err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Claim implements jobs.SlotStore.ClaimSlot: an insert wins a slot not
// recorded yet; a lapsed claim is taken over, or settled with its run,
// in a transaction that locks its row.
func (q *SlotSQL) Claim(ctx context.Context, ruleset string, slot time.Time, l jobs.Lease) (jobs.Claim, error) {
	res, err := q.DB.ExecContext(ctx, `INSERT INTO `+q.Slots+` (ruleset, slot, status, owner, claimed_at, lease_until)
		VALUES ($1, $2, 'claimed', $3, $4, $5) ON CONFLICT (ruleset, slot) DO NOTHING`,
		ruleset, q.Time(slot), l.Owner, q.Time(l.Now), q.Time(l.Until))
	if err != nil {
		return jobs.Claim{}, q.err("claim slot", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return jobs.Claim{Won: err == nil}, q.err("claim slot", err)
	}
	tx, err := q.DB.BeginTx(ctx, nil)
	if err != nil {
		return jobs.Claim{}, q.err("claim slot", err)
	}
	defer tx.Rollback() //nolint:errcheck
	owner, lapsed, err := q.lapsed(ctx, tx, ruleset, slot, l.Now)
	if err != nil || !lapsed {
		return jobs.Claim{}, q.err("claim slot", errors.Join(err, tx.Commit()))
	}
	settled, err := q.settle(ctx, tx, ruleset, slot)
	if err != nil {
		return jobs.Claim{}, q.err("claim slot", err)
	}
	c := jobs.Claim{Settled: settled}
	if settled == "" {
		_, err = tx.ExecContext(ctx, `UPDATE `+q.Slots+` SET owner = $3, claimed_at = $4, lease_until = $5
			WHERE ruleset = $1 AND slot = $2`, ruleset, q.Time(slot), l.Owner, q.Time(l.Now), q.Time(l.Until))
		c = jobs.Claim{Won: true, From: owner}
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return jobs.Claim{}, q.err("claim slot", err)
	}
	return c, nil
}

// lapsed locks a recorded slot's row and reports whether it is a claim
// whose lease ended at or before now, and its owner.
func (q *SlotSQL) lapsed(ctx context.Context, tx *sql.Tx, ruleset string, slot, now time.Time) (owner string, ok bool, err error) {
	var status string
	var who sql.NullString
	var until any
	err = tx.QueryRowContext(ctx, `SELECT status, owner, lease_until FROM `+q.Slots+`
		WHERE ruleset = $1 AND slot = $2`+q.ForUpdate, ruleset, q.Time(slot)).Scan(&status, &who, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil // deleted meanwhile (by a tierflow before 0004): the next look claims it
	}
	if err != nil || status != "claimed" {
		return "", false, err
	}
	end, err := q.ScanTime(until)
	if err != nil {
		return "", false, err
	}
	return who.String, !end.After(now), nil
}

// settle records a lapsed claim as the outcome of the slot's run when
// that run finished (its replica died before recording it), and returns
// the run's status; "" when no run of the slot finished.
func (q *SlotSQL) settle(ctx context.Context, tx *sql.Tx, ruleset string, slot time.Time) (jobs.Status, error) {
	var id int64
	var status string
	err := tx.QueryRowContext(ctx, `SELECT id, status FROM `+q.Runs+`
		WHERE ruleset = $1 AND slot = $2 AND `+finishedRun+` ORDER BY id DESC LIMIT 1`, ruleset, q.Time(slot)).Scan(&id, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	_, err = tx.ExecContext(ctx, `UPDATE `+q.Slots+` SET status = $3, run_id = $4 WHERE ruleset = $1 AND slot = $2`,
		ruleset, q.Time(slot), status, id)
	return jobs.Status(status), err
}

// Renew implements jobs.SlotStore.RenewSlot.
func (q *SlotSQL) Renew(ctx context.Context, ruleset string, slot time.Time, owner string, until time.Time) (bool, error) {
	res, err := q.DB.ExecContext(ctx, `UPDATE `+q.Slots+` SET lease_until = $4
		WHERE ruleset = $1 AND slot = $2 AND status = 'claimed' AND owner = $3`, ruleset, q.Time(slot), owner, q.Time(until))
	if err != nil {
		return false, q.err("renew slot lease", err)
	}
	n, err := res.RowsAffected()
	return n == 1, q.err("renew slot lease", err)
}

// Finish implements jobs.SlotStore.FinishSlot.
func (q *SlotSQL) Finish(ctx context.Context, ruleset string, slot time.Time, status jobs.Status, runID int64) error {
	var run any
	if runID != 0 {
		run = runID
	}
	_, err := q.DB.ExecContext(ctx, `UPDATE `+q.Slots+` SET status = $3, run_id = $4 WHERE ruleset = $1 AND slot = $2`,
		ruleset, q.Time(slot), string(status), run)
	return q.err("record slot", err)
}

// Release implements jobs.SlotStore.ReleaseSlot: the claim stays, its
// lease ended at now.
func (q *SlotSQL) Release(ctx context.Context, ruleset string, slot time.Time, owner string, now time.Time) error {
	_, err := q.DB.ExecContext(ctx, `UPDATE `+q.Slots+` SET lease_until = $4
		WHERE ruleset = $1 AND slot = $2 AND status = 'claimed' AND owner = $3`, ruleset, q.Time(slot), owner, q.Time(now))
	return q.err("release slot", err)
}

// MarkMissed implements jobs.SlotStore.MarkMissed, in one transaction.
func (q *SlotSQL) MarkMissed(ctx context.Context, ruleset string, slots []time.Time, now time.Time) (int, error) {
	tx, err := q.DB.BeginTx(ctx, nil)
	if err != nil {
		return 0, q.err("record missed slots", err)
	}
	defer tx.Rollback() //nolint:errcheck
	n := 0
	for _, slot := range slots {
		missed, err := q.markMissed(ctx, tx, ruleset, slot, now)
		if err != nil {
			return 0, q.err("record missed slots", err)
		}
		if !missed {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+q.Runs+` (ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at, error)
			VALUES ($1, '', 'scheduled', $2, $2, 'missed', $3, $3, $4)`, ruleset, q.Time(slot), q.Time(now), missedError); err != nil {
			return 0, q.err("record missed slots", err)
		}
		n++
	}
	return n, q.err("record missed slots", tx.Commit())
}

// markMissed records one slot as missed unless it is recorded otherwise:
// run, claimed by a live lease, or a lapsed claim whose run finished.
func (q *SlotSQL) markMissed(ctx context.Context, tx *sql.Tx, ruleset string, slot, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO `+q.Slots+` (ruleset, slot, status, claimed_at, lease_until)
		VALUES ($1, $2, 'missed', $3, $3) ON CONFLICT (ruleset, slot) DO NOTHING`, ruleset, q.Time(slot), q.Time(now))
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err == nil, err
	}
	_, lapsed, err := q.lapsed(ctx, tx, ruleset, slot, now)
	if err != nil || !lapsed {
		return false, err
	}
	if settled, err := q.settle(ctx, tx, ruleset, slot); err != nil || settled != "" {
		return false, err
	}
	_, err = tx.ExecContext(ctx, `UPDATE `+q.Slots+` SET status = 'missed' WHERE ruleset = $1 AND slot = $2`, ruleset, q.Time(slot))
	return err == nil, err
}

// Last implements jobs.SlotStore.LastSlot.
func (q *SlotSQL) Last(ctx context.Context, ruleset string) (time.Time, bool, error) {
	var v any
	if err := q.DB.QueryRowContext(ctx, `SELECT max(slot) FROM `+q.Slots+` WHERE ruleset = $1`, ruleset).Scan(&v); err != nil {
		return time.Time{}, false, q.err("read slots", err)
	}
	if v == nil {
		return time.Time{}, false, nil
	}
	t, err := q.ScanTime(v)
	return t, err == nil, q.err("read slots", err)
}

// Open implements jobs.SlotStore.OpenSlots.
func (q *SlotSQL) Open(ctx context.Context, ruleset string) ([]jobs.OpenSlot, error) {
	rows, err := q.DB.QueryContext(ctx, `SELECT slot, coalesce(owner, ''), lease_until FROM `+q.Slots+`
		WHERE ruleset = $1 AND status = 'claimed' ORDER BY slot`, ruleset)
	if err != nil {
		return nil, q.err("read claimed slots", err)
	}
	defer rows.Close()
	var out []jobs.OpenSlot
	for rows.Next() {
		var slot, until any
		var o jobs.OpenSlot
		if err := rows.Scan(&slot, &o.Owner, &until); err != nil {
			return nil, q.err("read claimed slots", err)
		}
		if o.Slot, err = q.ScanTime(slot); err == nil {
			o.LeaseUntil, err = q.ScanTime(until)
		}
		if err != nil {
			return nil, q.err("read claimed slots", err)
		}
		out = append(out, o)
	}
	return out, q.err("read claimed slots", rows.Err())
}
