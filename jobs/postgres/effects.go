package postgres

import (
	"context"
	"strconv"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var (
	_ jobs.EffectsSource = (*Store)(nil)
	_ jobs.EffectCounter = (*Store)(nil)
)

// effectsSQL reads effect reports' rows from the tierflow schema's
// tables. Each stream sorts the rule set's rows by customer key in byte
// order (COLLATE "C"), which the indexes, in the database's collation,
// do not provide. Reports count instead (EffectCounts): one statement
// that sorts the period's decisions of the actions with a holdout by
// customer, in any collation, joins the first ones to the history by
// hashing and returns a few hundred groups; BenchmarkClassReport has the
// figures.
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

// jsonText reads key $n of a jsonb column.
func jsonText(expr string, n int, key string) (string, any) {
	return "(" + expr + " ->> $" + strconv.Itoa(n) + "::text)", key
}

// addDays adds days of 24 hours: an interval of hours, unlike one of
// days, is the same whatever the session's time zone. The cast types a
// placeholder, which would otherwise be taken for an interval.
func addDays(expr string, days int) string {
	return "(" + expr + "::timestamptz + interval '" + strconv.Itoa(24*days) + " hours')"
}

// analyticSettings let the effects report's counts sort and hash a
// year of decisions in memory, and join the first decisions to the
// history by hashing: the planner, which cannot tell how many first
// decisions a window yields, would otherwise look each one's history up
// in the index, a million lookups.
var analyticSettings = []string{`SET LOCAL work_mem = '256MB'`, `SET LOCAL enable_nestloop = off`}
