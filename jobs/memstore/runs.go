package memstore

import (
	"context"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// StartRun records a run as running, outside any apply; a run with a
// slot is recorded as scheduled, whatever kind says.
func (s *Store) StartRun(ctx context.Context, run jobs.RunInfo, kind string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !run.Slot.IsZero() {
		kind = "scheduled"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addRunLocked(kernel.Run{RuleSet: run.RuleSet, RulesHash: run.RulesHash, Kind: kind, AsOf: stamp(run.AsOf),
		Slot: stampPtr(run.Slot), Status: string(jobs.StatusRunning), Started: stamp(run.Started)}), nil
}

// FinishRun records the outcome of a run that wrote no state. An unknown
// id changes nothing, as an UPDATE of no row.
func (s *Store) FinishRun(ctx context.Context, id int64, sum jobs.RunSummary) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.runLocked(id); r != nil {
		s.keepReportLocked(id, sum.Detail)
		r.Status, r.Finished, r.Error = string(sum.Status), stampPtr(sum.Finished), stringPtr(sum.Error)
		r.Customers, r.Changed, r.Actions, r.Errors = int64(sum.Customers), int64(sum.Changed), int64(sum.Actions), int64(sum.Errors)
	}
	return nil
}

// addRunLocked records r under the next id and returns it.
func (s *Store) addRunLocked(r kernel.Run) int64 {
	r.ID = int64(len(s.runs) + 1)
	s.runs = append(s.runs, r)
	return r.ID
}

// runLocked returns the run with the given id, or nil.
func (s *Store) runLocked(id int64) *kernel.Run {
	if id < 1 || id > int64(len(s.runs)) {
		return nil
	}
	return &s.runs[id-1]
}
