package webhook

import (
	"encoding/json"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// EventType is the body's "type" for an action.
const EventType = "tierflow.action"

// Event is the JSON body of every webhook (docs/webhooks.md).
type Event struct {
	Type string `json:"type"`
	// ID is MessageID of the action's idempotency key, as in webhook-id.
	ID string `json:"id"`
	// Timestamp is when the action was queued: the as-of time of its run,
	// the same on every attempt (webhook-timestamp is the attempt's time).
	Timestamp time.Time `json:"timestamp"`
	Data      Data      `json:"data"`
}

// Data is one queued action.
type Data struct {
	RuleSet        string          `json:"ruleset"`
	Action         string          `json:"action"`
	Customer       string          `json:"customer"`
	Payload        json.RawMessage `json:"payload"`
	Priority       int             `json:"priority"`
	DueAt          time.Time       `json:"due_at"`
	CreatedAt      time.Time       `json:"created_at"`
	RunID          int64           `json:"run_id"`
	Attempt        int             `json:"attempt"`
	ActionID       int64           `json:"action_id"`
	IdempotencyKey string          `json:"idempotency_key"`
}

// NewEvent is the body for delivery d. Times are in UTC.
func NewEvent(d *jobs.Delivery) Event {
	payload := d.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	return Event{
		Type:      EventType,
		ID:        MessageID(d.IdempotencyKey),
		Timestamp: d.CreatedAt.UTC(),
		Data: Data{
			RuleSet:        d.RuleSet,
			Action:         d.Action,
			Customer:       d.Customer,
			Payload:        payload,
			Priority:       d.Priority,
			DueAt:          d.DueAt.UTC(),
			CreatedAt:      d.CreatedAt.UTC(),
			RunID:          d.RunID,
			Attempt:        d.Attempt,
			ActionID:       d.ID,
			IdempotencyKey: d.IdempotencyKey,
		},
	}
}
