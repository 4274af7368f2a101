package postgres_test

import (
	"context"
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// The PostgreSQL store reads what class reports need, each case on a new
// database.
func TestReportConformance(t *testing.T) {
	t.Parallel()
	storetest.RunReport(t, func(t *testing.T) storetest.StateBackend {
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
