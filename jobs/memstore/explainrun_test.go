package memstore_test

import (
	"testing"

	"github.com/tierflow/tierflow/jobs/memstore"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// The in-memory store reads a customer's record as the SQL stores do,
// and explain --run rebuilds the state before a run from it.
func TestExplainRunConformance(t *testing.T) {
	t.Parallel()
	storetest.RunExplainRun(t, func(t *testing.T) storetest.StateBackend {
		return storetest.StateBackend{Store: memstore.New()}
	})
}
