package postgres

import (
	"context"
	"time"

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

// Decisions streams the rule set's decisions of [from, until] by
// customer. It implements jobs.EffectsSource.
func (s *Store) Decisions(ctx context.Context, ruleset string, from, until time.Time, fn func(*jobs.ActionDecision) error) error {
	if err := s.checkSchema(ctx); err != nil {
		return err
	}
	return s.effectsSQL().Decisions(ctx, ruleset, from, until, fn)
}

// Moves streams the rule set's history as of from by customer. It
// implements jobs.EffectsSource.
func (s *Store) Moves(ctx context.Context, ruleset string, from time.Time, fn func(*jobs.HistoryMove) error) error {
	if err := s.checkSchema(ctx); err != nil {
		return err
	}
	return s.effectsSQL().Moves(ctx, ruleset, from, fn)
}
