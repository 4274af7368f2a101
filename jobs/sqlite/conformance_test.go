package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs/storetest"
)

// factsDDL is customer_facts as a SQLite user would write it: dates in a
// TEXT column, timestamps in a TIMESTAMP one (which the driver returns as
// times).
const factsDDL = `CREATE TABLE customer_facts (
    customer_id    INTEGER PRIMARY KEY,
    spend_12m      REAL,
    spend_prev_12m REAL NOT NULL,
    orders_12m     INTEGER NOT NULL,
    first_order_at TEXT NOT NULL,
    last_order_at  TIMESTAMP,
    channel        TEXT NOT NULL
)`

var _ storetest.Store = (*Store)(nil)

// The SQLite store passes the conformance suite, each case on a new file.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		path := filepath.Join(t.TempDir(), "tierflow.db")
		return storetest.Backend{
			Open: func(t testing.TB) storetest.Store {
				t.Helper()
				return openStore(t, path, nil).Store
			},
			FactsDDL:     factsDDL,
			Contents:     contents,
			SetUpVersion: setUpVersion,
		}
	})
}

func openStore(t testing.TB, path string, sources map[string]string) testStore {
	t.Helper()
	s, err := openTest(context.Background(), Config{Path: path, BusyTimeout: 30 * time.Second}, sources)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// contents reads every table of the file, sqlite_sequence (the
// positions of the AUTOINCREMENT ids) included.
func contents(t testing.TB, s storetest.Store) []string {
	t.Helper()
	var tables []string
	if err := s.DB().Select(&tables, `SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, table := range tables {
		out = append(out, `SELECT * FROM "`+table+`"`)
	}
	return out
}

// setUpVersion builds the schema as the migrate of the release whose
// latest migration was version left it.
func setUpVersion(t testing.TB, s storetest.Store, version int) {
	t.Helper()
	tx, err := s.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range Migrations() {
		if m.Version > version {
			break
		}
		if _, err := tx.Exec(m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := tx.Exec(`INSERT INTO schema_migrations VALUES ($1, $2, '2024-01-01T00:00:00.000000Z')`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// The SQLite store passes the state-level conformance suite with facts
// from memory, each case on a new file: state is read by key, not joined
// to facts in SQL.
func TestStateConformance(t *testing.T) {
	t.Parallel()
	storetest.RunState(t, func(t *testing.T) storetest.StateBackend {
		path := filepath.Join(t.TempDir(), "tierflow.db")
		s := openStore(t, path, nil).Store
		if _, err := s.Migrate(context.Background(), false); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return storetest.StateBackend{Store: s, Another: func(t testing.TB) storetest.StateStore {
			return openStore(t, path, nil).Store
		}}
	})
}
