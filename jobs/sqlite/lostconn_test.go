package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// An apply whose connection is gone says so, that nothing was written,
// and to run it again; it does not pass the driver's words on alone.
func TestApplyLostConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := openTest(ctx, Config{Path: filepath.Join(t.TempDir(), "t.db")}, map[string]string{"retail": "customer_facts"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx, false); err != nil {
		t.Fatal(err)
	}
	storetest.CreateFacts(t, s, factsDDL, 20)
	rs := storetest.RetailRuleSet(t)
	const want = "the connection to the database was lost during the apply; nothing was written; rerun the apply: "
	for _, step := range []string{"stage", "commit"} {
		info := jobs.RunInfo{RuleSet: rs.Name, AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), Started: time.Now()}
		tx, err := s.BeginApply(ctx, rs, info)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.(*applyTx).conn.Close(); err != nil {
			t.Fatal(err)
		}
		if step == "stage" {
			err = tx.Stage(ctx, nil)
		} else {
			err = tx.Commit(ctx, jobs.RunSummary{Status: jobs.StatusSucceeded, Finished: time.Now()})
		}
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s on a lost connection: %v, want %q first", step, err, want)
		}
		if err := tx.Rollback(); err != nil {
			t.Errorf("%s: rollback: %v", step, err)
		}
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM main.assignments`).Scan(&n); err != nil || n != 0 {
		t.Errorf("assignments: %d, %v; want none", n, err)
	}
	// The rule set's lock was released: another apply can begin.
	tx, err := s.BeginApply(ctx, rs, jobs.RunInfo{RuleSet: rs.Name, Started: time.Now()})
	if err != nil {
		t.Fatalf("apply after the lost connections: %v", err)
	}
	tx.Rollback()
}
