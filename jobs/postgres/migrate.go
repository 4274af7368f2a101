package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one embedded, versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() []Migration { return ReadMigrations(migrationFiles) }

// ReadMigrations reads NNNN_name.sql files from the migrations directory
// of an embedded file system, in version order; the SQLite store reads
// its own with it. A bad file name is a build mistake, so it panics.
func ReadMigrations(fsys fs.FS) []Migration {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		panic(err) // embedded at build time; cannot fail
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("bad migration file name " + name)
		}
		src, _ := fs.ReadFile(fsys, "migrations/"+name)
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(src)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// LatestVersion is the schema version this build needs.
func LatestVersion() int {
	ms := Migrations()
	return ms[len(ms)-1].Version
}

// MigrationStatus is the schema's state in the database.
type MigrationStatus struct {
	Current int
	Latest  int
	Pending []Migration
}

// Migrate applies pending migrations, each in its own transaction, under
// an advisory lock so that concurrent migrates wait for each other. With
// dryRun it only reports what it would apply.
func (s *Store) Migrate(ctx context.Context, dryRun bool) (*MigrationStatus, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, s.redact(err)
	}
	defer conn.Close()
	if !dryRun {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
			return nil, s.redact(err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockKey) //nolint:errcheck
	}
	st, err := s.MigrationStatus(ctx)
	if err != nil {
		return nil, err
	}
	if dryRun {
		return st, nil
	}
	schema := pq.QuoteIdentifier(s.schema)
	for _, m := range st.Pending {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return st, s.redact(err)
		}
		stmts := []string{
			"CREATE SCHEMA IF NOT EXISTS " + schema,
			"SET LOCAL search_path TO " + schema,
			`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`,
			m.SQL,
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				_ = tx.Rollback()
				return st, fmt.Errorf("migration %s: %w", m.Name, s.redact(err))
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, m.Version, m.Name, time.Now().UTC()); err != nil {
			_ = tx.Rollback()
			return st, s.redact(err)
		}
		if err := tx.Commit(); err != nil {
			return st, s.redact(err)
		}
		st.Current = m.Version
	}
	st.Pending = nil
	return st, nil
}

// MigrationStatus reports the applied and pending migrations.
func (s *Store) MigrationStatus(ctx context.Context) (*MigrationStatus, error) {
	st := &MigrationStatus{Latest: LatestVersion()}
	var exists bool
	err := s.db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.schema+".schema_migrations").Scan(&exists)
	if err != nil {
		return nil, s.redact(err)
	}
	if exists {
		q := fmt.Sprintf(`SELECT coalesce(max(version), 0) FROM %s.schema_migrations`, pq.QuoteIdentifier(s.schema))
		if err := s.db.QueryRowContext(ctx, q).Scan(&st.Current); err != nil {
			return nil, s.redact(err)
		}
	}
	for _, m := range Migrations() {
		if m.Version > st.Current {
			st.Pending = append(st.Pending, m)
		}
	}
	return st, nil
}

// ErrSchemaOutdated is returned when the state schema needs `tierflow migrate`.
type ErrSchemaOutdated struct {
	Schema          string
	Current, Latest int
}

func (e *ErrSchemaOutdated) Error() string {
	if e.Current == 0 {
		return fmt.Sprintf("tierflow's state schema %q does not exist yet: run `tierflow migrate` first", e.Schema)
	}
	if e.Current > e.Latest {
		return fmt.Sprintf("state schema %q is at version %d, newer than this tierflow (%d): upgrade tierflow", e.Schema, e.Current, e.Latest)
	}
	return fmt.Sprintf("state schema %q is at version %d but this tierflow needs %d: run `tierflow migrate`", e.Schema, e.Current, e.Latest)
}

func (s *Store) checkSchema(ctx context.Context) error {
	st, err := s.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	if st.Current != st.Latest {
		return &ErrSchemaOutdated{Schema: s.schema, Current: st.Current, Latest: st.Latest}
	}
	return nil
}
