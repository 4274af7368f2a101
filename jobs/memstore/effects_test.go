package memstore_test

import (
	"testing"

	"github.com/tierflow/tierflow/jobs/memstore"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// The in-memory store streams what effect reports read as the SQL
// stores do.
func TestEffectsConformance(t *testing.T) {
	t.Parallel()
	storetest.RunEffects(t, func(t *testing.T) storetest.StateBackend {
		return storetest.StateBackend{Store: memstore.New()}
	})
}
