package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tierflow/tierflow/jobs/storetest"
)

// The SQLite store reads what class reports need, each case on a new
// file.
func TestReportConformance(t *testing.T) {
	t.Parallel()
	storetest.RunReport(t, func(t *testing.T) storetest.StateBackend {
		s := openStore(t, filepath.Join(t.TempDir(), "tierflow.db"), nil).Store
		if _, err := s.Migrate(context.Background(), false); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return storetest.StateBackend{Store: s}
	})
}
