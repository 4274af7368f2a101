package postgres

import (
	"context"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var (
	_ jobs.Queue        = (*Store)(nil)
	_ jobs.OutcomeStore = (*Store)(nil)
)

// queueSQL is the shared action queue on the tierflow schema's tables.
// Claims lock the rows they take and skip those other claims lock.
func (s *Store) queueSQL() *kernel.QueueSQL {
	return &kernel.QueueSQL{
		DB: s.db.DB, Actions: s.table("actions"), AttemptsTable: s.table("action_attempts"),
		Time:         func(t time.Time) any { return t.UTC() },
		ScanTime:     Dialect.Time,
		InKeys:       Dialect.InKeys,
		State:        s.table("customer_state"),
		SkipLocked:   " FOR UPDATE SKIP LOCKED",
		OneStatement: true,
		Redact:       s.redact,
	}
}

// Claim leases due actions of the destinations requested, with FOR
// UPDATE SKIP LOCKED so that concurrent workers never wait for or take
// each other's rows. It implements jobs.Queue.
func (s *Store) Claim(ctx context.Context, req jobs.ClaimRequest) ([]jobs.Delivery, error) {
	return s.queueSQL().Claim(ctx, req)
}

// Finish records an attempt and the action's next state if f.Owner still
// holds its lease. It implements jobs.Queue.
func (s *Store) Finish(ctx context.Context, f jobs.Finished) (bool, error) {
	return s.queueSQL().Finish(ctx, f)
}

// Attempts returns the recorded delivery attempts of an action, in order.
func (s *Store) Attempts(ctx context.Context, actionID int64) ([]jobs.Attempt, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	return s.queueSQL().Attempts(ctx, actionID)
}

// RetryAction puts a dead, failed or cancelled action back in the queue,
// due at now.
func (s *Store) RetryAction(ctx context.Context, id int64, now time.Time) error {
	return s.queueSQL().RetryAction(ctx, id, now)
}

// CancelAction cancels a pending or claimed action.
func (s *Store) CancelAction(ctx context.Context, id int64) error {
	return s.queueSQL().CancelAction(ctx, id)
}

// ActionRef returns what recording an outcome needs to know of an
// action, or an error wrapping jobs.ErrNoAction. It implements
// jobs.OutcomeStore.
func (s *Store) ActionRef(ctx context.Context, id int64) (jobs.ActionRef, error) {
	return s.queueSQL().ActionRef(ctx, id)
}

// RecordOutcome writes how a follow-up ended onto its action, in one
// statement, if the action can take an outcome (kernel.OutcomeFrom). It
// implements jobs.OutcomeStore.
func (s *Store) RecordOutcome(ctx context.Context, r jobs.OutcomeReport) error {
	return s.queueSQL().RecordOutcome(ctx, r)
}
