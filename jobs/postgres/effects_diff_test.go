package postgres_test

import (
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs/storetest"
)

// The PostgreSQL store's counts of an effects report's observations say
// what the merge of its decisions and moves says, cell for cell, on
// generated data of many customers.
func TestEffectCountsMatchTheMerge(t *testing.T) {
	t.Parallel()
	s := migratedStore(t)
	storetest.RunEffectCountsDiff(t, s, s.DB().DB, storetest.EffectsTables{Actions: "tierflow.actions", History: "tierflow.history",
		Time: func(t time.Time) any { return t.UTC() }})
}
