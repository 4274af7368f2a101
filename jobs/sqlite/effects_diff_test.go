package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// The kernel's counts of an effects report's observations, run on
// SQLite, say what the merge of the store's decisions and moves says,
// cell for cell, on generated data of many customers. The store itself
// merges (effects.go says why); the counts are checked here so that the
// kernel's statement stays one for both stores.
func TestEffectCountsMatchTheMerge(t *testing.T) {
	t.Parallel()
	s := openStore(t, filepath.Join(t.TempDir(), "tierflow.db"), nil).Store
	if _, err := s.Migrate(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	src := struct {
		*kernel.EffectsSQL
		jobs.ReportSource
	}{s.effectsSQL(), s}
	storetest.RunEffectCountsDiff(t, src, s.DB().DB, storetest.EffectsTables{Actions: "main.actions", History: "main.history",
		Time: func(t time.Time) any { return formatTime(t) }})
}
