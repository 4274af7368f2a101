package sqlite

import (
	"context"
	"fmt"
	"strconv"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.EffectsSource = (*Store)(nil)

// effectsSQL reads effect reports' rows on the read-only connections,
// where the two streams of a report run side by side, each in its own
// read transaction. Keys compare as bytes (BINARY), the order of the
// actions_customer and history_customer indexes. The kernel's counting
// statement (kernel.EffectsSQL.EffectCounts) runs on SQLite too, and
// the store's tests check it against the merge, but the store does not
// offer it (jobs.EffectCounter): SQLite's window functions make it
// slower than the merge, 1.6 s against 1.0 s for 100,000 decisions
// (BenchmarkEffects), for no memory saved.
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

// jsonText reads a key of a JSON text column by the path to it, bound
// as $n: rule names need no escaping in a path's double quotes.
func jsonText(expr string, n int, key string) (string, any) {
	return "json_extract(" + expr + ", $" + strconv.Itoa(n) + ")", `$."` + key + `"`
}

// addDays adds days to a time in timeLayout: strftime keeps seconds, so
// the fraction and zone are the original's.
func addDays(expr string, days int) string {
	return "(strftime('%Y-%m-%dT%H:%M:%S', " + expr + ", '" + fmt.Sprintf("%+d", days) + " days') || substr(" + expr + ", 20))"
}

// analyticSettings: SQLite has no planner settings to make.
var analyticSettings []string
