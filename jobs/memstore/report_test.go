package memstore_test

import (
	"testing"

	"github.com/tierflow/tierflow/jobs/memstore"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// The in-memory store reads what class reports need as the SQL stores
// do.
func TestReportConformance(t *testing.T) {
	t.Parallel()
	storetest.RunReport(t, func(t *testing.T) storetest.StateBackend {
		return storetest.StateBackend{Store: memstore.New()}
	})
}
