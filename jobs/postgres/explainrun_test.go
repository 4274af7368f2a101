package postgres_test

import (
	"testing"

	"github.com/tierflow/tierflow/jobs/storetest"
)

// The PostgreSQL store reads a customer's record, from which explain
// --run rebuilds the state before a run, each case on a new database.
func TestExplainRunConformance(t *testing.T) {
	t.Parallel()
	storetest.RunExplainRun(t, func(t *testing.T) storetest.StateBackend {
		return storetest.StateBackend{Store: migratedStore(t)}
	})
}
