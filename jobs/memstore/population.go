package memstore

import (
	"context"
	"maps"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.PopulationReader = (*Store)(nil)

// LastSucceeded returns the id and customer count of the rule set's most
// recent succeeded run, latest by start time and then id as in the SQL
// stores; ok is false when it has none. It implements
// jobs.PopulationReader, with each facts source's rows as the run's
// report recorded them.
func (s *Store) LastSucceeded(ctx context.Context, ruleset string) (jobs.PreviousRun, bool, error) {
	if err := ctx.Err(); err != nil {
		return jobs.PreviousRun{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var last *kernel.Run
	for i := range s.runs { // in id order: a later run of the same start wins
		r := &s.runs[i]
		if r.RuleSet == ruleset && r.Status == string(jobs.StatusSucceeded) && (last == nil || !r.Started.Before(last.Started)) {
			last = r
		}
	}
	if last == nil {
		return jobs.PreviousRun{}, false, nil
	}
	return jobs.PreviousRun{ID: last.ID, Customers: last.Customers, SourceRows: maps.Clone(s.sourceRows[last.ID]),
		RulesHash: last.RulesHash, AsOf: last.AsOf}, true, nil
}
