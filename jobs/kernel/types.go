package kernel

import (
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
	// Destination names where tierflow delivers the action; "" (NULL)
	// leaves it to consumers that claim it with SQL.
	Destination string `db:"destination" json:"destination,omitempty"`
	// LeaseOwner and LeaseUntil are the delivery worker holding a claimed
	// action and when its lease runs out; empty when none holds it.
	LeaseOwner string     `db:"lease_owner" json:"lease_owner,omitempty"`
	LeaseUntil *time.Time `db:"lease_until" json:"lease_until,omitempty"`
}

// ActionFilter selects queue rows; empty fields match everything.
type ActionFilter struct {
	// ID selects one action; 0 matches every action.
	ID                                int64
	RuleSet, Action, Customer, Status string
	// Destination selects the actions delivered to one destination.
	Destination string
	Limit       int
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
