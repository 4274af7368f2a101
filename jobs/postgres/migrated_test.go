package postgres_test

import (
	"context"
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs/postgres"
)

// migratedStore opens a store on a new database of the test server and
// migrates it; the store closes when t ends.
func migratedStore(t *testing.T) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Config{URL: pgtest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx, false); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}
