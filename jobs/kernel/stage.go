package kernel

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// Assignment is one changed assignment an apply stages.
type Assignment struct {
	Segmentation string
	Customer     string
	Segment      string
	Since        time.Time
	PendingSince time.Time // zero: none
	Matched      string
	Reason       string
	Previous     string // "": the customer had no segment
}

// Queued is one action an apply stages.
type Queued struct {
	Action         string
	Customer       string
	Payload        []byte // JSON
	Priority       int
	Due            time.Time
	IdempotencyKey string
}

// Changes walks an evaluated batch and calls assign for every assignment
// that changes (segment, since or pending-since) and queue for every
// action to queue: the rows each store writes to its staging table.
func Changes(rs *rules.RuleSet, run jobs.RunInfo, batch []jobs.Evaluated, assign func(*Assignment) error, queue func(*Queued) error) error {
	var a Assignment
	var q Queued
	for _, ev := range batch {
		c, res := ev.Customer, ev.Result
		for i, d := range res.Segments {
			if d.Segment == "" {
				continue
			}
			prev := c.State.Segments[i]
			if d.Segment == prev.Segment && d.Since.Equal(prev.Since) && d.PendingSince.Equal(prev.PendingSince) {
				continue
			}
			since := d.Since
			if since.IsZero() {
				since = run.AsOf
			}
			a = Assignment{Segmentation: rs.Segmentations[i].Name, Customer: c.Key, Segment: d.Segment, Since: since,
				PendingSince: d.PendingSince, Matched: d.Matched, Reason: d.Reason.String(), Previous: prev.Segment}
			if err := assign(&a); err != nil {
				return fmt.Errorf("stage assignments: %w", err)
			}
		}
		for _, act := range res.Actions {
			payload := []byte("{}")
			if act.Payload != nil {
				var err error
				if payload, err = json.Marshal(act.Payload); err != nil {
					return fmt.Errorf("action %s for customer %s: payload is not JSON: %w", act.Name, c.Key, err)
				}
			}
			q = Queued{Action: act.Name, Customer: c.Key, Payload: payload, Priority: act.Priority, Due: act.Due,
				IdempotencyKey: IdempotencyKey(rs.Name, act.Name, c.Key, run.AsOf)}
			if err := queue(&q); err != nil {
				return fmt.Errorf("stage actions: %w", err)
			}
		}
	}
	return nil
}
