package postgres_test

import (
	"context"
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/storetest"
)

var _ storetest.Store = (*postgres.Store)(nil)

// The PostgreSQL store passes the conformance suite, each case on a new
// database.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		url := pgtest.URL(t)
		return storetest.Backend{
			Open: func(t testing.TB) storetest.Store {
				t.Helper()
				s, err := postgres.Open(context.Background(), postgres.Config{URL: url})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			},
			FactsDDL:     storetest.PostgresFactsDDL,
			Contents:     pgContents,
			SetUpVersion: pgSetUpVersion,
			Decides:      true,
		}
	})
}

// pgContents reads every table of the tierflow and public schemas and
// the sequences' positions.
func pgContents(t testing.TB, s storetest.Store) []string {
	t.Helper()
	var tables []string
	err := s.DB().Select(&tables, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)
		FROM information_schema.tables WHERE table_schema IN ('tierflow', 'public') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, table := range tables {
		out = append(out, "SELECT * FROM "+table)
	}
	return append(out, `SELECT schemaname, sequencename, last_value FROM pg_sequences`)
}

// pgSetUpVersion builds the schema as the migrate of the release whose
// latest migration was version left it.
func pgSetUpVersion(t testing.TB, s storetest.Store, version int) {
	t.Helper()
	tx, err := s.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`CREATE SCHEMA tierflow`,
		`SET LOCAL search_path TO tierflow`,
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`,
	} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, m := range postgres.Migrations() {
		if m.Version > version {
			break
		}
		if _, err := tx.Exec(m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := tx.Exec(`INSERT INTO schema_migrations VALUES ($1, $2, now())`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// The PostgreSQL store passes the state-level conformance suite with
// facts from memory, each case on a new database: state is read by key,
// not joined to facts in SQL.
func TestStateConformance(t *testing.T) {
	t.Parallel()
	storetest.RunState(t, func(t *testing.T) storetest.StateBackend {
		url := pgtest.URL(t)
		open := func(t testing.TB) storetest.StateStore {
			t.Helper()
			s, err := postgres.Open(context.Background(), postgres.Config{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		s := open(t).(*postgres.Store)
		if _, err := s.Migrate(context.Background(), false); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return storetest.StateBackend{Store: s, Another: open}
	})
}
