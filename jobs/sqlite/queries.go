package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// History returns a customer's moves, oldest first; ruleset "" means all.
func (s *Store) History(ctx context.Context, ruleset, customer string) ([]kernel.HistoryEntry, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	rows, err := s.ro.QueryContext(ctx, `SELECT id, ruleset, segmentation, from_segment, to_segment, matched, reason, as_of, run_id
		FROM main.history WHERE customer_key = $1 AND ($2 = '' OR ruleset = $2) ORDER BY id`, customer, ruleset)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	defer rows.Close()
	var out []kernel.HistoryEntry
	for rows.Next() {
		var h kernel.HistoryEntry
		var from sql.NullString
		var asOf string
		if err := rows.Scan(&h.ID, &h.RuleSet, &h.Segmentation, &from, &h.To, &h.Matched, &h.Reason, &asOf, &h.RunID); err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		h.From = stringPtr(from)
		if h.AsOf, err = parseTime(asOf); err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// Actions lists queued actions, most urgent first.
func (s *Store) Actions(ctx context.Context, f kernel.ActionFilter) ([]kernel.QueuedAction, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := s.ro.QueryContext(ctx, `SELECT id, ruleset, action, customer_key, payload, priority, status, created_at, due_at,
			attempts, last_error, run_id, idempotency_key, coalesce(destination, ''), coalesce(lease_owner, ''), lease_until,
			coalesce(outcome, ''), outcome_at, coalesce(note, ''), segments
		FROM main.actions
		WHERE ($1 = '' OR ruleset = $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR customer_key = $3) AND ($4 = '' OR status = $4)
			AND ($6 = '' OR destination = $6) AND ($7 = 0 OR id = $7)
		ORDER BY priority, due_at, id LIMIT $5`, f.RuleSet, f.Action, f.Customer, f.Status, f.Limit, f.Destination, f.ID)
	if err != nil {
		return nil, fmt.Errorf("read actions: %w", err)
	}
	defer rows.Close()
	var out []kernel.QueuedAction
	for rows.Next() {
		var q kernel.QueuedAction
		var payload, created, due string
		var lastErr, leaseUntil, outcomeAt sql.NullString
		if err := rows.Scan(&q.ID, &q.RuleSet, &q.Action, &q.Customer, &payload, &q.Priority, &q.Status, &created, &due,
			&q.Attempts, &lastErr, &q.RunID, &q.Idempotent, &q.Destination, &q.LeaseOwner, &leaseUntil,
			&q.Outcome, &outcomeAt, &q.Note, &q.Segments); err != nil {
			return nil, fmt.Errorf("read actions: %w", err)
		}
		q.Payload = json.RawMessage(payload)
		q.LastError = stringPtr(lastErr)
		if q.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("read actions: %w", err)
		}
		if q.DueAt, err = parseTime(due); err != nil {
			return nil, fmt.Errorf("read actions: %w", err)
		}
		if q.LeaseUntil, err = timePtr(leaseUntil); err != nil {
			return nil, fmt.Errorf("read actions: %w", err)
		}
		if q.OutcomeAt, err = timePtr(outcomeAt); err != nil {
			return nil, fmt.Errorf("read actions: %w", err)
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// Runs lists the most recent runs, newest first; ruleset "" means all.
func (s *Store) Runs(ctx context.Context, ruleset string, limit int) ([]kernel.Run, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 20
	}
	rows, err := s.ro.QueryContext(ctx, `SELECT id, ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at,
			customers, changed, actions, errors, error
		FROM main.runs WHERE ($1 = '' OR ruleset = $1) ORDER BY started_at DESC, id DESC LIMIT $2`, ruleset, limit)
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	defer rows.Close()
	var out []kernel.Run
	for rows.Next() {
		var r kernel.Run
		var asOf, started string
		var slot, finished, msg sql.NullString
		if err := rows.Scan(&r.ID, &r.RuleSet, &r.RulesHash, &r.Kind, &asOf, &slot, &r.Status, &started, &finished,
			&r.Customers, &r.Changed, &r.Actions, &r.Errors, &msg); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		if r.AsOf, err = parseTime(asOf); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		if r.Started, err = parseTime(started); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		if r.Slot, err = timePtr(slot); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		if r.Finished, err = timePtr(finished); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		r.Error = stringPtr(msg)
		out = append(out, r)
	}
	return out, rows.Err()
}

func stringPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func timePtr(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	return &t, err
}

// RunReport returns the run with the id and the plan report stored with
// it (runs.detail); the report is nil when the run stored none, and ok is
// false when there is no such run.
func (s *Store) RunReport(ctx context.Context, id int64) (kernel.Run, *jobs.PlanReport, bool, error) {
	if err := s.checkSchema(ctx); err != nil {
		return kernel.Run{}, nil, false, err
	}
	var r kernel.Run
	var asOf, started string
	var slot, finished, msg, detail sql.NullString
	err := s.ro.QueryRowContext(ctx, `SELECT id, ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at,
			customers, changed, actions, errors, error, detail
		FROM main.runs WHERE id = $1`, id).Scan(&r.ID, &r.RuleSet, &r.RulesHash, &r.Kind, &asOf, &slot, &r.Status, &started, &finished,
		&r.Customers, &r.Changed, &r.Actions, &r.Errors, &msg, &detail)
	if errors.Is(err, sql.ErrNoRows) {
		return kernel.Run{}, nil, false, nil
	}
	if err != nil {
		return kernel.Run{}, nil, false, fmt.Errorf("read run %d: %w", id, err)
	}
	for _, t := range []struct {
		dst *time.Time
		src string
	}{{&r.AsOf, asOf}, {&r.Started, started}} {
		if *t.dst, err = parseTime(t.src); err != nil {
			return kernel.Run{}, nil, false, fmt.Errorf("read run %d: %w", id, err)
		}
	}
	if r.Slot, err = timePtr(slot); err != nil {
		return kernel.Run{}, nil, false, fmt.Errorf("read run %d: %w", id, err)
	}
	if r.Finished, err = timePtr(finished); err != nil {
		return kernel.Run{}, nil, false, fmt.Errorf("read run %d: %w", id, err)
	}
	r.Error = stringPtr(msg)
	rep, err := kernel.DecodeReport([]byte(detail.String))
	if err != nil {
		return r, nil, true, fmt.Errorf("run %d: %w", id, err)
	}
	return r, rep, true, nil
}
