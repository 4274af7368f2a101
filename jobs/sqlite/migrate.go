package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs/kernel"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded migrations in version order. Their
// versions and names match the PostgreSQL store's.
func Migrations() []kernel.Migration { return kernel.ReadMigrations(migrationFiles) }

// LatestVersion is the schema version this build needs.
func LatestVersion() int { return kernel.LatestVersion(Migrations()) }

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT`

// Migrate applies pending migrations, each in its own write transaction.
// SQLite's single writer serializes concurrent migrates; each one reads
// the version again inside its transaction, so every migration is applied
// once. With dryRun it only reports what it would apply.
func (s *Store) Migrate(ctx context.Context, dryRun bool) (*kernel.MigrationStatus, error) {
	st, err := s.MigrationStatus(ctx)
	if err != nil || dryRun {
		return st, err
	}
	for _, m := range st.Pending {
		if err := s.migrate(ctx, m); err != nil {
			return st, err
		}
		st.Current = max(st.Current, m.Version)
	}
	st.Pending = nil
	return st, nil
}

func (s *Store) migrate(ctx context.Context, m kernel.Migration) error {
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: waits for other migrates
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	defer tx.Rollback() //nolint:errcheck
	if _, err := tx.ExecContext(ctx, migrationsTable); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if current >= m.Version {
		return nil // another migrate applied it meanwhile
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.Version, m.Name, formatTime(time.Now())); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return nil
}

// MigrationStatus reports the applied and pending migrations.
func (s *Store) MigrationStatus(ctx context.Context) (*kernel.MigrationStatus, error) {
	return migrationStatus(ctx, s.ro)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func migrationStatus(ctx context.Context, q queryer) (*kernel.MigrationStatus, error) {
	current := 0
	var exists bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')`).Scan(&exists)
	if err != nil {
		return nil, err
	}
	if exists {
		if err := q.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return nil, err
		}
	}
	return kernel.NewMigrationStatus(current, Migrations()), nil
}

func (s *Store) checkSchema(ctx context.Context) error {
	return s.checkSchemaWith(ctx, s.ro)
}

func (s *Store) checkSchemaWith(ctx context.Context, q queryer) error {
	st, err := migrationStatus(ctx, q)
	if err != nil {
		return fmt.Errorf("read the schema version of %s: %w", s.path, err)
	}
	return st.Check(s.path)
}
