package postgres

import (
	"context"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.EffectsSource = (*Store)(nil)

// effectsSQL reads effect reports' rows from the tierflow schema's
// tables. Each stream sorts the rule set's rows by customer key in byte
// order (COLLATE "C"), which the indexes, in the database's collation,
// do not provide: a report costs a sort of the period's actions and of
// the history since its start.
func (s *Store) effectsSQL() *kernel.EffectsSQL {
	return &kernel.EffectsSQL{DB: s.db.DB, Dialect: Dialect, Tables: s.tables(), Secrets: s.secrets}
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
