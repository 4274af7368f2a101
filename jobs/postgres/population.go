package postgres

import (
	"context"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.PopulationReader = (*Store)(nil)

// LastSucceeded returns the rule set's most recent succeeded run, for the
// guard's max_shrink. It implements jobs.PopulationReader.
func (s *Store) LastSucceeded(ctx context.Context, ruleset string) (jobs.PreviousRun, bool, error) {
	if err := s.checkSchema(ctx); err != nil {
		return jobs.PreviousRun{}, false, err
	}
	last, ok, err := kernel.LastSucceeded(ctx, s.db, Dialect, s.table("runs"), ruleset, jobs.Shard{})
	return last, ok, s.redact(err)
}
