package kernel

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// Assignment is one changed assignment an apply stages. One with an
// empty Segment is a leave: the customer, gone from the facts source
// under on_missing: exit, moves out of the segmentation from Previous to
// no segment; its Reason is "left" and its times are zero. A store
// deletes the customer's assignment and records the move in history.
type Assignment struct {
	Segmentation string
	Customer     string
	Segment      string // "": a leave
	Since        time.Time
	PendingSince time.Time // zero: none
	Matched      string
	Reason       string
	Previous     string // "": the customer had no segment
}

// Leaves reports whether the assignment is a leave: the customer moves
// out of the segmentation.
func (a *Assignment) Leaves() bool { return a.Segment == "" }

// Queued is one action an apply stages.
type Queued struct {
	Action         string
	Customer       string
	Payload        []byte // JSON
	Priority       int
	Due            time.Time
	IdempotencyKey string
	// Destination is the rule's deliver_to: where tierflow delivers the
	// action; "" leaves it to consumers (NULL in the queue).
	Destination string
	// Status is "" for an action to queue (pending), or jobs.ActionHeldOut
	// or jobs.ActionSuppressed for one that fired but is withheld: the
	// queue records it with that status, nobody claims it, and only a
	// held-out one starts the action's cooldown (action_last).
	Status string
	// Note says why a withheld action was withheld.
	Note string
	// Segments is the JSON object of the customer's segment per
	// segmentation after the run ({"value_tier": "vip", ...}), kept with
	// the action so that outcomes can be told apart by class; nil for
	// segment syncs.
	Segments []byte
}

// StartsCooldown reports whether queueing q records its time in
// action_last: a queued or held-out action does, a suppressed one (which
// reached nobody and may fire again tomorrow) does not.
func (q *Queued) StartsCooldown() bool { return q.Status != jobs.ActionSuppressed }

// Changes walks an evaluated batch and calls assign for every assignment
// that changes (segment, since or pending-since), and for every leave (a
// decision with ReasonLeft of a customer who had a segment), and queue
// for every action to queue: the rows each store writes to its staging
// table. Other decisions without a segment change nothing. A move (a
// changed segment, a first one or a leave) in a segmentation of the
// customer's Evaluated.Sync also queues one sync action per destination
// (see SyncAction).
func Changes(rs *rules.RuleSet, run jobs.RunInfo, batch []jobs.Evaluated, assign func(*Assignment) error, queue func(*Queued) error) error {
	var a Assignment
	var q Queued
	deliverTo := make(map[string]string, len(rs.Actions))
	for i := range rs.Actions {
		deliverTo[rs.Actions[i].Name] = rs.Actions[i].DeliverTo
	}
	for _, ev := range batch {
		c, res := ev.Customer, ev.Result
		for i, d := range res.Segments {
			seg := rs.Segmentations[i].Name
			var prev engine.Assignment // none: the state holds no segment
			if i < len(c.State.Segments) {
				prev = c.State.Segments[i]
			}
			if d.Segment == "" {
				if d.Reason != engine.ReasonLeft || prev.Segment == "" {
					continue
				}
				a = Assignment{Segmentation: seg, Customer: c.Key, Matched: d.Matched,
					Reason: d.Reason.String(), Previous: prev.Segment}
				if err := assign(&a); err != nil {
					return fmt.Errorf("stage assignments: %w", err)
				}
				if err := syncMove(rs, run, ev.Sync, &a, queue); err != nil {
					return err
				}
				continue
			}
			if d.Segment == prev.Segment && d.Since.Equal(prev.Since) && d.PendingSince.Equal(prev.PendingSince) {
				continue
			}
			since := d.Since
			if since.IsZero() {
				since = run.AsOf
			}
			a = Assignment{Segmentation: seg, Customer: c.Key, Segment: d.Segment, Since: since,
				PendingSince: d.PendingSince, Matched: d.Matched, Reason: d.Reason.String(), Previous: prev.Segment}
			if err := assign(&a); err != nil {
				return fmt.Errorf("stage assignments: %w", err)
			}
			if err := syncMove(rs, run, ev.Sync, &a, queue); err != nil {
				return err
			}
		}
		if len(res.Actions) == 0 && len(res.Withheld) == 0 {
			continue
		}
		segments, err := segmentsJSON(rs, res)
		if err != nil {
			return fmt.Errorf("customer %s: %w", c.Key, err)
		}
		stage := func(act *engine.QueuedAction, status, note string) error {
			payload := []byte("{}")
			if act.Payload != nil {
				var err error
				if payload, err = json.Marshal(act.Payload); err != nil {
					return fmt.Errorf("action %s for customer %s: payload is not JSON: %w", act.Name, c.Key, err)
				}
			}
			q = Queued{Action: act.Name, Customer: c.Key, Payload: payload, Priority: act.Priority, Due: act.Due,
				IdempotencyKey: IdempotencyKey(rs.Name, act.Name, c.Key, run.AsOf), Destination: deliverTo[act.Name],
				Status: status, Note: note, Segments: segments}
			if err := queue(&q); err != nil {
				return fmt.Errorf("stage actions: %w", err)
			}
			return nil
		}
		for i := range res.Actions {
			if err := stage(&res.Actions[i], "", ""); err != nil {
				return err
			}
		}
		for i := range res.Withheld {
			w := &res.Withheld[i]
			if err := stage(&w.QueuedAction, string(w.Status), w.Reason); err != nil {
				return err
			}
		}
	}
	return nil
}

// segmentsJSON is the customer's segment per segmentation after the run,
// as a JSON object; a segmentation without a segment is left out.
func segmentsJSON(rs *rules.RuleSet, res *engine.Result) ([]byte, error) {
	m := make(map[string]string, len(res.Segments))
	for i, d := range res.Segments {
		if d.Segment != "" {
			m[rs.Segmentations[i].Name] = d.Segment
		}
	}
	return json.Marshal(m)
}

// SyncAction is the action name of the sync of segmentation seg: what a
// destination of Options.Sync receives for every move there.
func SyncAction(seg string) string { return "sync." + seg }

// syncPayload is the JSON payload of a sync action. From and To are null
// for no segment: a first assignment, a leave.
type syncPayload struct {
	Segmentation string  `json:"segmentation"`
	From         *string `json:"from"`
	To           *string `json:"to"`
	Reason       string  `json:"reason"`
}

// syncMove queues a sync action for every destination of sync that
// asks for a's segmentation, if a is a move: its segment differs from the
// previous one. The action is due at the run's as-of, priority 0.
func syncMove(rs *rules.RuleSet, run jobs.RunInfo, sync map[string][]string, a *Assignment, queue func(*Queued) error) error {
	dests := sync[a.Segmentation]
	if len(dests) == 0 || a.Segment == a.Previous {
		return nil
	}
	payload, err := json.Marshal(syncPayload{Segmentation: a.Segmentation, From: orNull(a.Previous), To: orNull(a.Segment), Reason: a.Reason})
	if err != nil {
		return fmt.Errorf("sync of %s for customer %s: %w", a.Segmentation, a.Customer, err)
	}
	action := SyncAction(a.Segmentation)
	for _, dest := range dests {
		q := Queued{Action: action, Customer: a.Customer, Payload: payload, Due: run.AsOf,
			IdempotencyKey: IdempotencyKey(rs.Name, action+"/"+dest, a.Customer, run.AsOf), Destination: dest}
		if err := queue(&q); err != nil {
			return fmt.Errorf("stage sync actions: %w", err)
		}
	}
	return nil
}

// orNull is s, or nil (JSON null) for "".
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
