package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
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
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	enforced, err := foreignKeysOff(ctx, conn)
	if err != nil {
		conn.Close()
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	err = s.migrateOn(ctx, conn, m, enforced)
	if !enforced {
		return errors.Join(err, conn.Close())
	}
	if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); rerr != nil {
		// Do not hand the pool a connection that no longer enforces them.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return errors.Join(err, fmt.Errorf("migration %s: turn foreign keys back on: %w", m.Name, rerr))
	}
	return errors.Join(err, conn.Close())
}

// foreignKeysOff turns foreign key enforcement off on conn, outside any
// transaction (where PRAGMA foreign_keys does nothing), as a table
// rebuild needs (https://sqlite.org/lang_altertable.html, step 1); it
// reports whether it was on. tierflow's connections leave it off, but a
// build of SQLite may default it on.
func foreignKeysOff(ctx context.Context, conn *sql.Conn) (bool, error) {
	var on bool
	if err := conn.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&on); err != nil {
		return false, fmt.Errorf("read foreign_keys: %w", err)
	}
	if !on {
		return false, nil
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return false, fmt.Errorf("turn foreign keys off: %w", err)
	}
	return true, nil
}

// migrateOn applies m in one write transaction on conn. When foreign
// keys were enforced before, it checks them before it commits (step 10
// of the rebuild procedure), so that a migration cannot leave rows
// pointing nowhere.
func (s *Store) migrateOn(ctx context.Context, conn *sql.Conn, m kernel.Migration, checkKeys bool) error {
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE: waits for other migrates
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
	if checkKeys {
		if err := foreignKeyCheck(ctx, tx); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
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

// foreignKeyCheck fails when some row's foreign key points at no row.
func foreignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return fmt.Errorf("check foreign keys: %w", err)
	}
	defer rows.Close()
	n := 0
	var first string
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fkid int64
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return fmt.Errorf("check foreign keys: %w", err)
		}
		if n == 0 {
			first = fmt.Sprintf("row %d of %s points at no row of %s", rowid.Int64, table, parent)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check foreign keys: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("check foreign keys: %d rows point at no row, such as %s", n, first)
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
