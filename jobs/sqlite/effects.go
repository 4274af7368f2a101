package sqlite

import (
	"context"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.EffectsSource = (*Store)(nil)

// effectsSQL reads effect reports' rows on the read-only connections,
// where the two streams of a report run side by side, each in its own
// read transaction. Keys compare as bytes (BINARY), the order of the
// actions_customer and history_customer indexes.
func (s *Store) effectsSQL() *kernel.EffectsSQL {
	return &kernel.EffectsSQL{DB: s.ro.DB, Dialect: Dialect, Tables: s.tables()}
}

// Decisions streams the decisions q selects by customer. It implements
// jobs.EffectsSource.
func (s *Store) Decisions(ctx context.Context, q jobs.EffectsQuery, fn func(*jobs.ActionDecision) error) error {
	if err := s.checkSchema(ctx); err != nil {
		return err
	}
	return s.effectsSQL().Decisions(ctx, q, fn)
}

// Moves streams the history as of q.From of the customers q's decisions
// are of, by customer. It implements jobs.EffectsSource.
func (s *Store) Moves(ctx context.Context, q jobs.EffectsQuery, fn func(*jobs.HistoryMove) error) error {
	if err := s.checkSchema(ctx); err != nil {
		return err
	}
	return s.effectsSQL().Moves(ctx, q, fn)
}
