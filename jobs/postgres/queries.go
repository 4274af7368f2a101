package postgres

import (
	"context"
	"encoding/json"
	"time"
)

// HistoryEntry is one recorded move of a customer.
type HistoryEntry struct {
	ID           int64     `db:"id" json:"id"`
	RuleSet      string    `db:"ruleset" json:"ruleset"`
	Segmentation string    `db:"segmentation" json:"segmentation"`
	From         *string   `db:"from_segment" json:"from"`
	To           string    `db:"to_segment" json:"to"`
	Matched      string    `db:"matched" json:"matched"`
	Reason       string    `db:"reason" json:"reason"`
	AsOf         time.Time `db:"as_of" json:"as_of"`
	RunID        int64     `db:"run_id" json:"run_id"`
}

// History returns a customer's moves, oldest first; ruleset "" means all.
func (s *Store) History(ctx context.Context, ruleset, customer string) ([]HistoryEntry, error) {
	var out []HistoryEntry
	err := s.db.SelectContext(ctx, &out, `SELECT id, ruleset, segmentation, from_segment, to_segment, matched, reason, as_of, run_id
		FROM `+s.table("history")+` WHERE customer_key = $1 AND ($2 = '' OR ruleset = $2) ORDER BY id`, customer, ruleset)
	return out, s.redact(err)
}

// QueuedAction is one row of the action queue.
type QueuedAction struct {
	ID         int64           `db:"id" json:"id"`
	RuleSet    string          `db:"ruleset" json:"ruleset"`
	Action     string          `db:"action" json:"action"`
	Customer   string          `db:"customer_key" json:"customer"`
	Payload    json.RawMessage `db:"payload" json:"payload"`
	Priority   int             `db:"priority" json:"priority"`
	Status     string          `db:"status" json:"status"`
	CreatedAt  time.Time       `db:"created_at" json:"created_at"`
	DueAt      time.Time       `db:"due_at" json:"due_at"`
	Attempts   int             `db:"attempts" json:"attempts"`
	LastError  *string         `db:"last_error" json:"last_error,omitempty"`
	RunID      int64           `db:"run_id" json:"run_id"`
	Idempotent string          `db:"idempotency_key" json:"idempotency_key"`
}

// ActionFilter selects queue rows; empty fields match everything.
type ActionFilter struct {
	RuleSet, Action, Customer, Status string
	Limit                             int
}

// Actions lists queued actions, most urgent first.
func (s *Store) Actions(ctx context.Context, f ActionFilter) ([]QueuedAction, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	var out []QueuedAction
	err := s.db.SelectContext(ctx, &out, `SELECT id, ruleset, action, customer_key, payload, priority, status, created_at, due_at,
			attempts, last_error, run_id, idempotency_key
		FROM `+s.table("actions")+`
		WHERE ($1 = '' OR ruleset = $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR customer_key = $3) AND ($4 = '' OR status = $4)
		ORDER BY priority, due_at, id LIMIT $5`, f.RuleSet, f.Action, f.Customer, f.Status, f.Limit)
	return out, s.redact(err)
}
