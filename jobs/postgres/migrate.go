package postgres

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/jobs/kernel"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded migrations in version order.
func Migrations() []kernel.Migration { return kernel.ReadMigrations(migrationFiles) }

// LatestVersion is the schema version this build needs.
func LatestVersion() int { return kernel.LatestVersion(Migrations()) }

// Migrate applies pending migrations, each in its own transaction, under
// an advisory lock so that concurrent migrates wait for each other. With
// dryRun it only reports what it would apply.
func (s *Store) Migrate(ctx context.Context, dryRun bool) (*kernel.MigrationStatus, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, s.redact(err)
	}
	defer conn.Close()
	if err := s.checkServer(ctx); err != nil {
		return nil, err
	}
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
func (s *Store) MigrationStatus(ctx context.Context) (*kernel.MigrationStatus, error) {
	current := 0
	var exists bool
	err := s.db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.schema+".schema_migrations").Scan(&exists)
	if err != nil {
		return nil, s.redact(err)
	}
	if exists {
		q := fmt.Sprintf(`SELECT coalesce(max(version), 0) FROM %s.schema_migrations`, pq.QuoteIdentifier(s.schema))
		if err := s.db.QueryRowContext(ctx, q).Scan(&current); err != nil {
			return nil, s.redact(err)
		}
	}
	return kernel.NewMigrationStatus(current, Migrations()), nil
}

func (s *Store) checkSchema(ctx context.Context) error {
	if err := s.checkServer(ctx); err != nil {
		return err
	}
	st, err := s.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	return st.Check(s.schema)
}

// minServer is the oldest PostgreSQL tierflow runs on (server_version_num):
// 14, for hash_record_extended, which digests facts (changed.go).
const minServer = 140000

// checkServer refuses a PostgreSQL older than minServer, naming its
// version.
func (s *Store) checkServer(ctx context.Context) error {
	var num int
	var version string
	if err := s.db.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int, current_setting('server_version')`).Scan(&num, &version); err != nil {
		return s.redact(err)
	}
	return serverError(num, version)
}

// serverError is the error of a server of version num (version, as it
// names itself) that is older than minServer; nil otherwise.
func serverError(num int, version string) error {
	if num < minServer {
		return fmt.Errorf("PostgreSQL %s is too old: tierflow needs PostgreSQL 14 or later", version)
	}
	return nil
}
