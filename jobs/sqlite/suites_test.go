package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tierflow/tierflow/jobs/storetest"
)

// migratedBackend is a migrated store on a new file, for the suites below.
func migratedBackend(t *testing.T) storetest.StateBackend {
	s := openStore(t, filepath.Join(t.TempDir(), "tierflow.db"), nil).Store
	if _, err := s.Migrate(context.Background(), false); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return storetest.StateBackend{Store: s}
}

// The SQLite store streams what effect reports read in byte order, each
// case on a new file.
func TestEffectsConformance(t *testing.T) {
	t.Parallel()
	storetest.RunEffects(t, migratedBackend)
}

// The SQLite store reads what class reports need, each case on a new
// file.
func TestReportConformance(t *testing.T) {
	t.Parallel()
	storetest.RunReport(t, migratedBackend)
}

// The SQLite store reads a customer's record, from which explain --run
// rebuilds the state before a run, each case on a new file.
func TestExplainRunConformance(t *testing.T) {
	t.Parallel()
	storetest.RunExplainRun(t, migratedBackend)
}
