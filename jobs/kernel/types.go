package kernel

import (
	"encoding/json"
	"fmt"
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
	// Outcome and OutcomeAt are how and when the follow-up ended, as
	// reported (jobs.OutcomeReport); "" and nil when none has been, and
	// Outcome is "" for a failure.
	Outcome   string     `db:"outcome" json:"outcome,omitempty"`
	OutcomeAt *time.Time `db:"outcome_at" json:"outcome_at,omitempty"`
	// Note is the text reported with the outcome or, for a held-out or
	// suppressed action, why it was withheld.
	Note string `db:"note" json:"note,omitempty"`
	// Segments is the customer's segment per segmentation when the action
	// was queued; nil for segment syncs and actions queued before
	// tierflow kept it.
	Segments Segments `db:"segments" json:"segments,omitempty"`
}

// Segments is a customer's segment per segmentation ({"value_tier":
// "vip"}), as the queue keeps it with an action in a JSON column.
type Segments map[string]string

// Scan reads the JSON column; NULL is nil.
func (s *Segments) Scan(src any) error {
	var b []byte
	switch x := src.(type) {
	case nil:
		*s = nil
		return nil
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		return fmt.Errorf("segments: stored as %T, not JSON text", src)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("segments %q: %w", b, err)
	}
	*s = m
	return nil
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
	// Parent is the parent run of a shard's run (kind "sharded"), and
	// Shard is the shard ("2/4"), or for a parent the number of shards
	// ("4"); nil for an unsharded run.
	Parent *int64  `db:"parent_id" json:"parent,omitempty"`
	Shard  *string `db:"shard_label" json:"shard,omitempty"`
}

// KindText is the run's kind with its shard: "apply 2/4" for a shard's
// run, "sharded:4" for their parent, the kind alone otherwise.
func (r Run) KindText() string {
	switch {
	case r.Shard == nil:
		return r.Kind
	case r.Parent == nil:
		return r.Kind + ":" + *r.Shard
	}
	return r.Kind + " " + *r.Shard
}
