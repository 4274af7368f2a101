package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// History returns a customer's moves, oldest first; ruleset "" means all.
func (s *Store) History(ctx context.Context, ruleset, customer string) ([]kernel.HistoryEntry, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	var out []kernel.HistoryEntry
	err := s.db.SelectContext(ctx, &out, `SELECT id, ruleset, segmentation, from_segment, to_segment, matched, reason, as_of, run_id
		FROM `+s.table("history")+` WHERE customer_key = $1 AND ($2 = '' OR ruleset = $2) ORDER BY id`, customer, ruleset)
	return out, s.redact(err)
}

// Actions lists queued actions, most urgent first.
func (s *Store) Actions(ctx context.Context, f kernel.ActionFilter) ([]kernel.QueuedAction, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var out []kernel.QueuedAction
	err := s.db.SelectContext(ctx, &out, `SELECT id, ruleset, action, customer_key, payload, priority, status, created_at, due_at,
			attempts, last_error, run_id, idempotency_key,
			coalesce(destination, '') AS destination, coalesce(lease_owner, '') AS lease_owner, lease_until,
			coalesce(outcome, '') AS outcome, outcome_at, coalesce(note, '') AS note, segments
		FROM `+s.table("actions")+`
		WHERE ($1 = '' OR ruleset = $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR customer_key = $3) AND ($4 = '' OR status = $4)
			AND ($6 = '' OR destination = $6) AND ($7 = 0 OR id = $7)
		ORDER BY priority, due_at, id LIMIT $5`, f.RuleSet, f.Action, f.Customer, f.Status, f.Limit, f.Destination, f.ID)
	return out, s.redact(err)
}

// Runs lists the most recent runs, newest first; ruleset "" means all.
func (s *Store) Runs(ctx context.Context, ruleset string, limit int) ([]kernel.Run, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 20
	}
	var out []kernel.Run
	err := s.db.SelectContext(ctx, &out, `SELECT id, ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at,
			customers, changed, actions, errors, error, parent_id, `+shardLabel+` AS shard_label
		FROM `+s.table("runs")+` WHERE ($1 = '' OR ruleset = $1) ORDER BY started_at DESC, id DESC LIMIT $2`, ruleset, limit)
	return out, s.redact(err)
}

// RunReport returns the run with the id and the plan report stored with
// it (runs.detail); the report is nil when the run stored none, and ok is
// false when there is no such run.
func (s *Store) RunReport(ctx context.Context, id int64) (kernel.Run, *jobs.PlanReport, bool, error) {
	if err := s.checkSchema(ctx); err != nil {
		return kernel.Run{}, nil, false, err
	}
	var row struct {
		kernel.Run
		Detail []byte `db:"detail"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT id, ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at,
			customers, changed, actions, errors, error, detail
		FROM `+s.table("runs")+` WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return kernel.Run{}, nil, false, nil
	}
	if err != nil {
		return kernel.Run{}, nil, false, s.redact(err)
	}
	rep, err := kernel.DecodeReport(row.Detail)
	if err != nil {
		return row.Run, nil, true, fmt.Errorf("run %d: %w", id, err)
	}
	return row.Run, rep, true, nil
}

// shardLabel is the SQL of kernel.Run.Shard.
const shardLabel = `CASE WHEN shards IS NULL THEN NULL WHEN shard IS NULL THEN shards::text ELSE shard || '/' || shards END`
