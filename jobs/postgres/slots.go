package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// ClaimSlot inserts the slot; the primary key lets exactly one replica
// win. It implements jobs.SlotStore.
func (s *Store) ClaimSlot(ctx context.Context, ruleset string, slot time.Time, owner string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO `+s.table("slots")+` (ruleset, slot, status, owner, claimed_at)
		VALUES ($1, $2, 'claimed', $3, now()) ON CONFLICT (ruleset, slot) DO NOTHING`, ruleset, slot, owner)
	if err != nil {
		return false, s.redact(err)
	}
	n, err := res.RowsAffected()
	return n == 1, s.redact(err)
}

// FinishSlot records a claimed slot's outcome.
func (s *Store) FinishSlot(ctx context.Context, ruleset string, slot time.Time, status jobs.Status, runID int64) error {
	var run any
	if runID != 0 {
		run = runID
	}
	_, err := s.db.ExecContext(ctx, `UPDATE `+s.table("slots")+` SET status = $3, run_id = $4 WHERE ruleset = $1 AND slot = $2`,
		ruleset, slot, string(status), run)
	return s.redact(err)
}

// ReleaseSlot deletes a claim whose run was cancelled by shutdown.
func (s *Store) ReleaseSlot(ctx context.Context, ruleset string, slot time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM `+s.table("slots")+` WHERE ruleset = $1 AND slot = $2 AND status = 'claimed'`, ruleset, slot)
	return s.redact(err)
}

// MarkMissed records slots that will not run, each with a 'missed' run
// record so that `tierflow runs` shows them.
func (s *Store) MarkMissed(ctx context.Context, ruleset string, slots []time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.redact(err)
	}
	defer tx.Rollback() //nolint:errcheck
	for _, slot := range slots {
		res, err := tx.ExecContext(ctx, `INSERT INTO `+s.table("slots")+` (ruleset, slot, status, claimed_at)
			VALUES ($1, $2, 'missed', now()) ON CONFLICT (ruleset, slot) DO NOTHING`, ruleset, slot)
		if err != nil {
			return s.redact(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // another replica recorded it
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+s.table("runs")+` (ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at, error)
			VALUES ($1, '', 'scheduled', $2, $2, 'missed', now(), now(), 'no replica ran this slot within the starting deadline')`, ruleset, slot); err != nil {
			return s.redact(err)
		}
	}
	return s.redact(tx.Commit())
}

// LastSlot returns the latest recorded slot of a rule set.
func (s *Store) LastSlot(ctx context.Context, ruleset string) (time.Time, bool, error) {
	var t sql.NullTime
	err := s.db.QueryRowContext(ctx, `SELECT max(slot) FROM `+s.table("slots")+` WHERE ruleset = $1`, ruleset).Scan(&t)
	if err != nil {
		return time.Time{}, false, s.redact(err)
	}
	return t.Time.UTC(), t.Valid, nil
}
