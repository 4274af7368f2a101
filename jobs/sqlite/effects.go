package sqlite

import (
	"context"
	"time"

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
