package sqlite

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
	return kernel.LastSucceeded(ctx, s.ro, Dialect, "main.runs", ruleset, jobs.Shard{})
}
