package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// An apply that has recorded its start but not yet asked for the lock
// when another apply takes it is marked abandoned by that apply, which
// cannot tell it from a dead one; it is alive, so when it finds the lock
// taken its run is recorded as skipped, not left abandoned. (Seen as a
// flaky TestConcurrentApplies.)
func TestLiveRunMarkedAbandonedRecordsItsOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migratedStore(t)
	rs := retail(t)
	start := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	info := func() jobs.RunInfo {
		info := jobs.RunInfo{RuleSet: rs.Name, RulesHash: rs.Hash, AsOf: start, Started: start}
		id, err := s.StartRun(ctx, info, "apply")
		if err != nil {
			t.Fatal(err)
		}
		info.ID = id
		return info
	}
	loser, winner := info(), info()
	tx, err := s.BeginApply(ctx, rs, winner)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var status string
	if err := s.DB().Get(&status, `SELECT status FROM tierflow.runs WHERE id = $1`, loser.ID); err != nil {
		t.Fatal(err)
	}
	if status != "abandoned" {
		t.Fatalf("the earlier run, still before its lock, is %q once another apply holds the lock; want abandoned (the guess this test is about)", status)
	}
	if _, err := s.BeginApply(ctx, rs, loser); err != jobs.ErrLocked {
		t.Fatalf("the second BeginApply: %v, want ErrLocked", err)
	}
	if err := s.FinishRun(ctx, loser.ID, jobs.RunSummary{Status: jobs.StatusSkipped, Finished: start, Error: jobs.ErrLocked.Error()}); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Get(&status, `SELECT status FROM tierflow.runs WHERE id = $1`, loser.ID); err != nil {
		t.Fatal(err)
	}
	if status != "skipped" {
		t.Fatalf("the live run that found the lock taken is recorded %q, want skipped", status)
	}
}
