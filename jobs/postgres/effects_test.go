package postgres_test

import (
	"context"
	"testing"

	"github.com/tierflow/tierflow/jobs/storetest"
)

// The PostgreSQL store streams what effect reports read in byte order,
// whatever the collation of its key columns, each case on a new
// database. The test databases use the C locale, where any order by key
// is byte order; the cases move the key columns to ICU's root collation
// ("a" before "B"), where only an order by the bytes is.
func TestEffectsConformance(t *testing.T) {
	t.Parallel()
	storetest.RunEffects(t, func(t *testing.T) storetest.StateBackend {
		ctx := context.Background()
		s := migratedStore(t)
		var icu bool
		if err := s.DB().QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_collation WHERE collname = 'und-x-icu')`).Scan(&icu); err != nil {
			t.Fatal(err)
		}
		if !icu {
			t.Log("this PostgreSQL has no ICU collations: the keys keep the C collation")
			return storetest.StateBackend{Store: s}
		}
		for _, table := range []string{"actions", "history"} {
			if _, err := s.DB().ExecContext(ctx, `ALTER TABLE tierflow.`+table+` ALTER COLUMN customer_key TYPE text COLLATE "und-x-icu"`); err != nil {
				t.Fatal(err)
			}
		}
		return storetest.StateBackend{Store: s}
	})
}
