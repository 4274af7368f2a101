package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.OutcomeStore = (*Store)(nil)

// ActionRef returns what recording an outcome needs to know of an
// action, or an error wrapping jobs.ErrNoAction. It implements
// jobs.OutcomeStore.
func (s *Store) ActionRef(ctx context.Context, id int64) (jobs.ActionRef, error) {
	if err := ctx.Err(); err != nil {
		return jobs.ActionRef{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.actionLocked(id)
	if q == nil {
		return jobs.ActionRef{ID: id}, fmt.Errorf("action %d: %w", id, jobs.ErrNoAction)
	}
	return jobs.ActionRef{ID: id, RuleSet: q.RuleSet, Action: q.Action, Customer: q.Customer, Status: q.Status}, nil
}

// RecordOutcome writes how a follow-up ended onto its action, under the
// store's mutex, if the action can take an outcome (kernel.OutcomeFrom),
// as the SQL stores' one statement does: status, outcome, note, outcome
// time, and no lease. It implements jobs.OutcomeStore.
func (s *Store) RecordOutcome(ctx context.Context, r jobs.OutcomeReport) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := kernel.CheckReport(r); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.actionLocked(r.ID)
	if q == nil {
		return fmt.Errorf("record the outcome of action %d: %w", r.ID, jobs.ErrNoAction)
	}
	if !slices.Contains(kernel.OutcomeFrom, q.Status) {
		return kernel.NotFinishable(r.ID, q.Status)
	}
	q.Status, q.Outcome, q.Note, q.OutcomeAt = r.Status, r.Outcome, r.Note, stampPtr(r.At)
	q.LeaseOwner, q.LeaseUntil = "", nil
	return nil
}
