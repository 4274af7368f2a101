package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tierflow/tierflow/jobs/storetest"
)

// The SQLite store streams what effect reports read in byte order, each
// case on a new file.
func TestEffectsConformance(t *testing.T) {
	t.Parallel()
	storetest.RunEffects(t, func(t *testing.T) storetest.StateBackend {
		s := openStore(t, filepath.Join(t.TempDir(), "tierflow.db"), nil).Store
		if _, err := s.Migrate(context.Background(), false); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return storetest.StateBackend{Store: s}
	})
}
