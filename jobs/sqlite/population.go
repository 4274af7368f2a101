package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/tierflow/tierflow/jobs"
)

var _ jobs.PopulationReader = (*Store)(nil)

// LastSucceeded returns the id and customer count of the rule set's most
// recent succeeded run, for the guard's max_shrink; ok is false when it
// has none. started_at is stored in timeLayout, so text order is time
// order. It implements jobs.PopulationReader.
func (s *Store) LastSucceeded(ctx context.Context, ruleset string) (jobs.PreviousRun, bool, error) {
	var last jobs.PreviousRun
	err := s.ro.QueryRowContext(ctx, `SELECT id, customers FROM main.runs
		WHERE ruleset = $1 AND status = 'succeeded' ORDER BY started_at DESC, id DESC LIMIT 1`, ruleset).Scan(&last.ID, &last.Customers)
	if errors.Is(err, sql.ErrNoRows) {
		return jobs.PreviousRun{}, false, nil
	}
	if err != nil {
		return jobs.PreviousRun{}, false, err
	}
	return last, true, nil
}
