package kernel

import (
	"context"
	"database/sql"
	"errors"

	"github.com/tierflow/tierflow/jobs"
)

// LastSucceeded returns the id and customer count of the rule set's most
// recent succeeded run in the runs table, for the guard's max_shrink; ok
// is false when it has none. Both dialects store started_at so that it
// orders as time does.
func LastSucceeded(ctx context.Context, q Queryer, runs, ruleset string) (jobs.PreviousRun, bool, error) {
	var last jobs.PreviousRun
	err := q.QueryRowContext(ctx, `SELECT id, customers FROM `+runs+`
		WHERE ruleset = $1 AND status = 'succeeded' ORDER BY started_at DESC, id DESC LIMIT 1`, ruleset).Scan(&last.ID, &last.Customers)
	if errors.Is(err, sql.ErrNoRows) {
		return jobs.PreviousRun{}, false, nil
	}
	if err != nil {
		return jobs.PreviousRun{}, false, err
	}
	return last, true, nil
}
