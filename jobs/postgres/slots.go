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

// Run is one row of the run record, for `tierflow runs`.
type Run struct {
	ID        int64      `db:"id" json:"id"`
	RuleSet   string     `db:"ruleset" json:"ruleset"`
	RulesHash string     `db:"rules_hash" json:"rules_hash"`
	Kind      string     `db:"kind" json:"kind"`
	AsOf      time.Time  `db:"as_of" json:"as_of"`
	Slot      *time.Time `db:"slot" json:"slot,omitempty"`
	Status    string     `db:"status" json:"status"`
	Started   time.Time  `db:"started_at" json:"started_at"`
	Finished  *time.Time `db:"finished_at" json:"finished_at,omitempty"`
	Customers int64      `db:"customers" json:"customers"`
	Changed   int64      `db:"changed" json:"changed"`
	Actions   int64      `db:"actions" json:"actions"`
	Errors    int64      `db:"errors" json:"errors"`
	Error     *string    `db:"error" json:"error,omitempty"`
}

// Runs lists the most recent runs, newest first; ruleset "" means all.
func (s *Store) Runs(ctx context.Context, ruleset string, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = 20
	}
	var out []Run
	err := s.db.SelectContext(ctx, &out, `SELECT id, ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at,
			customers, changed, actions, errors, error
		FROM `+s.table("runs")+` WHERE ($1 = '' OR ruleset = $1) ORDER BY started_at DESC, id DESC LIMIT $2`, ruleset, limit)
	return out, s.redact(err)
}
