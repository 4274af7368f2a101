package postgres_test

import (
	"testing"

	"github.com/tierflow/tierflow/jobs/storetest"
)

// The PostgreSQL store reads what class reports need, each case on a new
// database.
func TestReportConformance(t *testing.T) {
	t.Parallel()
	storetest.RunReport(t, func(t *testing.T) storetest.StateBackend {
		return storetest.StateBackend{Store: migratedStore(t)}
	})
}
