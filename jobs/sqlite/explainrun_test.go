package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tierflow/tierflow/jobs/storetest"
)

// The SQLite store reads a customer's record, from which explain --run
// rebuilds the state before a run, each case on a new file.
func TestExplainRunConformance(t *testing.T) {
	t.Parallel()
	storetest.RunExplainRun(t, func(t *testing.T) storetest.StateBackend {
		s := openStore(t, filepath.Join(t.TempDir(), "tierflow.db"), nil).Store
		if _, err := s.Migrate(context.Background(), false); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return storetest.StateBackend{Store: s}
	})
}
