package jobs

import (
	"context"
	"encoding/json"
	"time"
)

// Queue statuses an action moves through when tierflow delivers it
// (docs/queue.md). Actions without a destination stay for consumers that
// claim them with SQL, as before.
const (
	ActionPending   = "pending"   // due, waiting for a worker (or a consumer)
	ActionClaimed   = "claimed"   // a worker holds its lease and is delivering it
	ActionDone      = "done"      // delivered (or finished by a consumer)
	ActionFailed    = "failed"    // a consumer reported failure
	ActionDead      = "dead"      // delivery gave up: too many attempts or too old
	ActionCancelled = "cancelled" // cancelled by hand (tierflow actions cancel)
)

// Delivery is one queued action handed to a destination.
type Delivery struct {
	// ID is the queue row; IdempotencyKey is stable across attempts and
	// is what receivers de-duplicate on (delivery is at-least-once).
	ID             int64
	IdempotencyKey string
	RuleSet        string
	Action         string
	Customer       string
	Payload        json.RawMessage
	Priority       int
	CreatedAt      time.Time // the as-of time of the run that queued it
	DueAt          time.Time
	RunID          int64
	// Destination is the name under destinations: in tierflow.yaml.
	Destination string
	// Attempt is this attempt's number, from 1.
	Attempt int
	// FirstAttempt is when the action's first recorded attempt started;
	// zero for its first. The retry policy's MaxAge counts from it, so
	// that an action queued with a long delay is not dead on its first
	// failure.
	FirstAttempt time.Time
}

// DeliveryOutcome is what one attempt to deliver came to.
type DeliveryOutcome struct {
	// Err is nil when the destination accepted the action.
	Err error
	// Status is the HTTP status of the (last) request, 0 when there was
	// none (a timeout, a refused connection, a file).
	Status int
	// Response is an excerpt of the response body, at most
	// MaxResponseExcerpt bytes, for the attempt record.
	Response string
	// RetryAfter is the wait the destination asked for (Retry-After on a
	// 429 or 503); 0 when it asked for none.
	RetryAfter time.Duration
	// Permanent marks a failure that retrying cannot fix (a 400 or 404,
	// a mapping error): the action goes dead at once.
	Permanent bool
}

// MaxResponseExcerpt bounds the response excerpt kept per attempt.
const MaxResponseExcerpt = 1024

// Destination delivers actions to one system: a webhook, a CRM, a file.
// Deliver must be safe for concurrent use and must return when ctx ends.
type Destination interface {
	Deliver(ctx context.Context, d *Delivery) DeliveryOutcome
}

// Queue is the action queue of a state store, as a delivery worker uses
// it. Claims are leases: an action claimed by a worker that dies is due
// again once its lease has run out, and Finish by a worker that no longer
// holds the lease changes nothing.
type Queue interface {
	// Claim leases up to req.Limit due actions (status pending, due_at at
	// or before req.Now, or claimed with an expired lease), for the
	// destinations named, by priority, then due time, then id; no two
	// callers get the same action while its lease runs. It increments
	// each action's attempt count.
	Claim(ctx context.Context, req ClaimRequest) ([]Delivery, error)
	// Finish records an attempt and the action's next state, if owner
	// still holds its lease; ok is false when it does not (the lease ran
	// out and another worker took it), and then nothing is written.
	Finish(ctx context.Context, f Finished) (ok bool, err error)
}

// ClaimRequest asks a Queue for due actions.
type ClaimRequest struct {
	Owner        string    // the worker, for the lease and the attempt record
	Now          time.Time // what "due" is measured against
	LeaseUntil   time.Time // when the lease runs out
	Limit        int
	Destinations []string // names; an action with another destination is not claimed
}

// Finished is the end of one attempt.
type Finished struct {
	ID    int64
	Owner string
	// Status is ActionDone, ActionPending (retry at NextDue) or ActionDead.
	Status  string
	NextDue time.Time
	Attempt Attempt
}

// Attempt is one recorded try to deliver an action.
type Attempt struct {
	ActionID int64         `json:"action_id"`
	Number   int           `json:"attempt"`
	Worker   string        `json:"worker"`
	Started  time.Time     `json:"started_at"`
	Duration time.Duration `json:"duration_ns"`
	Status   int           `json:"http_status,omitempty"`
	Error    string        `json:"error,omitempty"`
	Response string        `json:"response,omitempty"`
}

// BatchDestination is implemented by destinations whose API takes several
// actions in one call (Zoho CRM upserts up to 100 records a request). A
// Worker hands such a destination up to MaxBatch of its claimed actions
// at once instead of one Deliver each.
type BatchDestination interface {
	Destination
	// MaxBatch is the most actions one DeliverBatch call takes.
	MaxBatch() int
	// DeliverBatch delivers ds and returns one outcome per delivery, in
	// the same order; an outcome may fail while others succeed.
	DeliverBatch(ctx context.Context, ds []*Delivery) []DeliveryOutcome
}
