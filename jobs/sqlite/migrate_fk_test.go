package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openEnforcing opens a store on path whose connections enforce foreign
// keys, as a build of SQLite that defaults them on would.
func openEnforcing(t *testing.T, path string) *Store {
	t.Helper()
	ctx := context.Background()
	s := &Store{path: path}
	var err error
	if s.db, err = openPool(ctx, path, time.Minute, "_txlock=immediate", "_journal_mode=WAL", "_pragma=foreign_keys(1)"); err != nil {
		t.Fatal(err)
	}
	if s.ro, err = openPool(ctx, path, time.Minute, "_query_only=1", "_pragma=foreign_keys(1)"); err != nil {
		t.Fatal(err)
	}
	s.db.SetMaxOpenConns(1) // the migrate's connection is the one checked afterwards
	t.Cleanup(func() { s.Close() })
	return s
}

// withAttempts sets the file at path up at version 5, with one action and
// two attempts of it, and returns an enforcing store on it.
func withAttempts(t *testing.T, path string) *Store {
	t.Helper()
	setUpVersion(t, openStore(t, path, nil).Store, 5)
	s := openEnforcing(t, path)
	for _, q := range []string{
		`INSERT INTO actions (ruleset, action, customer_key, created_at, due_at, idempotency_key, run_id)
			VALUES ('retail', 'call', '1', '2024-07-01T00:00:00.000000Z', '2024-07-01T00:00:00.000000Z', 'k1', 1)`,
		`INSERT INTO action_attempts (action_id, attempt, worker, started_at, duration_us) VALUES (1, 1, 'w', '2024-07-01T00:00:00.000000Z', 1)`,
		`INSERT INTO action_attempts (action_id, attempt, worker, started_at, duration_us) VALUES (1, 2, 'w', '2024-07-01T00:00:00.000000Z', 1)`,
	} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return s
}

func count(t *testing.T, s *Store, q string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Migration 0006 rebuilds actions, which action_attempts points at with
// ON DELETE CASCADE. On connections that enforce foreign keys, migrate
// turns them off around the rebuild, as SQLite's procedure says, so that
// dropping the old table deletes no attempts; afterwards they are on
// again and point at the new table: deleting an action deletes its
// attempts.
func TestMigrateKeepsAttemptsWithForeignKeys(t *testing.T) {
	ctx := context.Background()
	s := withAttempts(t, filepath.Join(t.TempDir(), "tierflow.db"))
	if _, err := s.Migrate(ctx, false); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if n := count(t, s, `SELECT count(*) FROM action_attempts`); n != 2 {
		t.Fatalf("%d attempts after migrate, want 2", n)
	}
	if n := count(t, s, `PRAGMA foreign_keys`); n != 1 {
		t.Fatal("migrate left foreign keys off on its connection")
	}
	var sql string
	if err := s.db.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = 'action_attempts'`).Scan(&sql); err != nil || !strings.Contains(sql, "REFERENCES actions (id)") {
		t.Fatalf("action_attempts after migrate: %s, %v", sql, err)
	}
	if _, err := s.db.Exec(`DELETE FROM actions WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM action_attempts`); n != 0 {
		t.Fatalf("%d attempts of a deleted action are left: the foreign key points elsewhere", n)
	}
}

// An attempt that points at no action, written while foreign keys were
// off, fails the check before the migration commits (step 10 of the
// procedure): nothing is migrated.
func TestMigrateChecksForeignKeys(t *testing.T) {
	ctx := context.Background()
	s := withAttempts(t, filepath.Join(t.TempDir(), "tierflow.db"))
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`PRAGMA foreign_keys = OFF`,
		`INSERT INTO action_attempts (action_id, attempt, worker, started_at, duration_us) VALUES (99, 1, 'w', '2024-07-01T00:00:00.000000Z', 1)`,
		`PRAGMA foreign_keys = ON`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	_, err = s.Migrate(ctx, false)
	if err == nil || !strings.Contains(err.Error(), "point at no row") {
		t.Fatalf("migrate with an orphan attempt: %v", err)
	}
	if st, err := s.MigrationStatus(ctx); err != nil || st.Current != 5 {
		t.Fatalf("status after the refused migrate: %+v, %v", st, err)
	}
}
