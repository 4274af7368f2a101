package postgres

import (
	"context"
	"database/sql"
	"errors"

	"github.com/tierflow/tierflow/jobs"
)

var _ jobs.PopulationReader = (*Store)(nil)

// LastSucceeded returns the id and customer count of the rule set's most
// recent succeeded run, for the guard's max_shrink; ok is false when it
// has none. It implements jobs.PopulationReader.
func (s *Store) LastSucceeded(ctx context.Context, ruleset string) (jobs.PreviousRun, bool, error) {
	var last jobs.PreviousRun
	err := s.db.QueryRowContext(ctx, `SELECT id, customers FROM `+s.table("runs")+`
		WHERE ruleset = $1 AND status = 'succeeded' ORDER BY started_at DESC, id DESC LIMIT 1`, ruleset).Scan(&last.ID, &last.Customers)
	if errors.Is(err, sql.ErrNoRows) {
		return jobs.PreviousRun{}, false, nil
	}
	if err != nil {
		return jobs.PreviousRun{}, false, s.redact(err)
	}
	return last, true, nil
}
