package postgres_test

import (
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs/storetest"
)

// The effect profiles Maintain keeps count what the merge of the
// decisions and moves says, through cancellations, retries and a run
// back in time, before and after each Maintain.
func TestEffectProfilesMatchTheMerge(t *testing.T) {
	t.Parallel()
	s := migratedStore(t)
	db := s.DB().DB
	storetest.RunEffectProfilesDiff(t, storetest.Profiles{
		Store: s, DB: db, Runs: "tierflow.runs",
		Tables: storetest.EffectsTables{Actions: "tierflow.actions", History: "tierflow.history", Time: func(t time.Time) any { return t.UTC() }},
		Rows: func(t *testing.T, ruleset string) int {
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM tierflow.effect_profiles WHERE ruleset = $1`, ruleset).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
		Spoil: func(t *testing.T, ruleset string, delta int) {
			if _, err := db.Exec(`UPDATE tierflow.effect_profiles SET spent = spent + $2 WHERE ruleset = $1 AND NOT held_out`, ruleset, delta); err != nil {
				t.Fatal(err)
			}
		},
	})
}
