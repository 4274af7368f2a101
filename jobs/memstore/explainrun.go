package memstore

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.CustomerRecordReader = (*Store)(nil)

// CustomerRecord returns what the store keeps of one customer of a rule
// set, as the SQL stores read it: the committed assignments by
// segmentation name, the history and the queue rows by id. It
// implements jobs.CustomerRecordReader.
func (s *Store) CustomerRecord(ctx context.Context, ruleset, key string) (*jobs.CustomerRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := &jobs.CustomerRecord{}
	if set := s.sets[ruleset]; set != nil {
		for k, a := range set.assignments {
			if k.customer == key {
				rec.Assignments = append(rec.Assignments, jobs.RecordedAssignment{Segmentation: k.segmentation, RunID: a.runID,
					Assignment: engine.Assignment{Segment: a.segment, Since: a.since, PendingSince: a.pendingSince}})
			}
		}
	}
	sort.Slice(rec.Assignments, func(i, j int) bool { return rec.Assignments[i].Segmentation < rec.Assignments[j].Segmentation })
	for _, i := range s.byCustomer[key] {
		if h := s.history[i]; h.RuleSet == ruleset {
			rec.Moves = append(rec.Moves, recordedMove(h))
		}
	}
	for _, q := range s.actions {
		if q.RuleSet == ruleset && q.Customer == key {
			rec.Actions = append(rec.Actions, recordedAction(q))
		}
	}
	return rec, nil
}

func recordedMove(h kernel.HistoryEntry) jobs.RecordedMove {
	m := jobs.RecordedMove{ID: h.ID, Segmentation: h.Segmentation, To: h.To, Matched: h.Matched, Reason: h.Reason, AsOf: h.AsOf, RunID: h.RunID}
	if h.From != nil {
		m.From = *h.From
	}
	return m
}

func recordedAction(q kernel.QueuedAction) jobs.RecordedAction {
	a := jobs.RecordedAction{ID: q.ID, Action: q.Action, Status: q.Status, Priority: q.Priority, Created: q.CreatedAt, Due: q.DueAt,
		Payload: append(json.RawMessage(nil), q.Payload...), RunID: q.RunID, Outcome: q.Outcome, Note: q.Note}
	if q.OutcomeAt != nil {
		a.OutcomeAt = *q.OutcomeAt
	}
	return a
}
