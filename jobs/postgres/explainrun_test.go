package postgres_test

import (
	"context"
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// The PostgreSQL store reads a customer's record, from which explain
// --run rebuilds the state before a run, each case on a new database.
func TestExplainRunConformance(t *testing.T) {
	t.Parallel()
	storetest.RunExplainRun(t, func(t *testing.T) storetest.StateBackend {
		ctx := context.Background()
		s, err := postgres.Open(ctx, postgres.Config{URL: pgtest.URL(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(ctx, false); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return storetest.StateBackend{Store: s}
	})
}
