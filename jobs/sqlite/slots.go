package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// ClaimSlot inserts the slot; the primary key lets exactly one replica
// win. It implements jobs.SlotStore.
func (s *Store) ClaimSlot(ctx context.Context, ruleset string, slot time.Time, owner string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO main.slots (ruleset, slot, status, owner, claimed_at)
		VALUES ($1, $2, 'claimed', $3, $4) ON CONFLICT (ruleset, slot) DO NOTHING`, ruleset, formatTime(slot), owner, formatTime(time.Now()))
	if err != nil {
		return false, fmt.Errorf("claim slot: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FinishSlot records a claimed slot's outcome.
func (s *Store) FinishSlot(ctx context.Context, ruleset string, slot time.Time, status jobs.Status, runID int64) error {
	var run any
	if runID != 0 {
		run = runID
	}
	_, err := s.db.ExecContext(ctx, `UPDATE main.slots SET status = $3, run_id = $4 WHERE ruleset = $1 AND slot = $2`,
		ruleset, formatTime(slot), string(status), run)
	if err != nil {
		return fmt.Errorf("record slot: %w", err)
	}
	return nil
}

// ReleaseSlot deletes a claim whose run was cancelled by shutdown.
func (s *Store) ReleaseSlot(ctx context.Context, ruleset string, slot time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM main.slots WHERE ruleset = $1 AND slot = $2 AND status = 'claimed'`, ruleset, formatTime(slot))
	if err != nil {
		return fmt.Errorf("release slot: %w", err)
	}
	return nil
}

// MarkMissed records slots that will not run, each with a 'missed' run
// record so that `tierflow runs` shows them.
func (s *Store) MarkMissed(ctx context.Context, ruleset string, slots []time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record missed slots: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	now := formatTime(time.Now())
	for _, slot := range slots {
		res, err := tx.ExecContext(ctx, `INSERT INTO main.slots (ruleset, slot, status, claimed_at)
			VALUES ($1, $2, 'missed', $3) ON CONFLICT (ruleset, slot) DO NOTHING`, ruleset, formatTime(slot), now)
		if err != nil {
			return fmt.Errorf("record missed slots: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // another replica recorded it
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.runs (ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at, error)
			VALUES ($1, '', 'scheduled', $2, $2, 'missed', $3, $3, 'no replica ran this slot within the starting deadline')`,
			ruleset, formatTime(slot), now); err != nil {
			return fmt.Errorf("record missed slots: %w", err)
		}
	}
	return tx.Commit()
}

// LastSlot returns the latest recorded slot of a rule set.
func (s *Store) LastSlot(ctx context.Context, ruleset string) (time.Time, bool, error) {
	var v sql.NullString
	if err := s.ro.QueryRowContext(ctx, `SELECT max(slot) FROM main.slots WHERE ruleset = $1`, ruleset).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("read slots: %w", err)
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	t, err := parseTime(v.String)
	return t, err == nil, err
}
