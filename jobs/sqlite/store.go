package sqlite

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

// The types the query methods share with the PostgreSQL store, so that
// the CLI reads both stores the same way.
type (
	// Source is where a rule set's facts come from: a SQL query on the
	// SQLite database (or a table or view name) returning one row per
	// customer, with a key column and a column per fact.
	Source = postgres.Source
	// Column is one column of a facts source.
	Column = postgres.Column
	// Migration is one embedded, versioned schema change.
	Migration = postgres.Migration
	// MigrationStatus is the schema's state in the database file.
	MigrationStatus = postgres.MigrationStatus
	// ErrSchemaOutdated is returned when the file needs `tierflow migrate`.
	ErrSchemaOutdated = postgres.ErrSchemaOutdated
	// HistoryEntry is one recorded move of a customer.
	HistoryEntry = postgres.HistoryEntry
	// QueuedAction is one row of the action queue.
	QueuedAction = postgres.QueuedAction
	// ActionFilter selects queue rows; empty fields match everything.
	ActionFilter = postgres.ActionFilter
	// Run is one row of the run record.
	Run = postgres.Run
)

// Store implements the interfaces package jobs declares.
var (
	_ jobs.Store       = (*Store)(nil)
	_ jobs.RunRecorder = (*Store)(nil)
	_ jobs.SlotStore   = (*Store)(nil)
)

// DefaultBusyTimeout is how long a write waits for another connection's
// write transaction (SQLite has one writer at a time) before it fails.
const DefaultBusyTimeout = time.Minute

// Config configures a Store.
type Config struct {
	// Path is the database file; it is created if missing.
	Path string
	// Sources maps rule set names to their facts sources.
	Sources map[string]Source
	// BusyTimeout is how long a write waits for the database's write lock;
	// default DefaultBusyTimeout. Applies hold that lock only while they
	// commit, never while they evaluate.
	BusyTimeout time.Duration
}

// Store is a SQLite-backed store in one file. It is safe for concurrent
// use, and several processes may use one file at a time.
type Store struct {
	db      *sqlx.DB // read-write connections; BeginTx starts BEGIN IMMEDIATE
	ro      *sqlx.DB // connections with PRAGMA query_only: snapshots and queries
	path    string
	sources map[string]Source
}

// Open opens (creating if needed) the database file, in WAL mode, and
// checks it can be read and written.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if strings.TrimSpace(cfg.Path) == "" {
		return nil, errors.New("no database file")
	}
	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("database file %s: %w", cfg.Path, err)
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // one file, one set of apply locks, however it is named
	}
	busy := cfg.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	s := &Store{path: path, sources: cfg.Sources}
	if s.db, err = openPool(ctx, path, busy, "_txlock=immediate", "_journal_mode=WAL", "_synchronous=FULL"); err != nil {
		return nil, err
	}
	// The read-only pool opens after the first read-write connection has
	// put the file in WAL mode.
	if s.ro, err = openPool(ctx, path, busy, "_query_only=1"); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

func openPool(ctx context.Context, path string, busy time.Duration, params ...string) (*sqlx.DB, error) {
	q := append([]string{"_busy_timeout=" + strconv.FormatInt(busy.Milliseconds(), 10)}, params...)
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter
	}
	dsn := (&url.URL{Scheme: "file", Path: p, RawQuery: strings.Join(q, "&")}).String()
	db, err := sqlx.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return db, nil
}

// Close closes the connection pools.
func (s *Store) Close() error { return errors.Join(s.ro.Close(), s.db.Close()) }

// DB returns the read-write connection pool, for tests and tools. Its
// placeholders are $1, $2, ... as with PostgreSQL.
func (s *Store) DB() *sqlx.DB { return s.db }

// Schema returns the SQLite schema holding tierflow's tables: "main".
func (s *Store) Schema() string { return "main" }

// Path returns the database file's absolute path.
func (s *Store) Path() string { return s.path }

// Redact returns text unchanged: a SQLite store has no secrets. It exists
// so that callers treat both stores alike.
func (s *Store) Redact(text string) string { return text }

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// source returns the SQL that yields rs's facts.
func (s *Store) source(rs *rules.RuleSet) (string, error) {
	src, ok := s.sources[rs.Name]
	if !ok || strings.TrimSpace(src.Query) == "" {
		return "", fmt.Errorf("no facts source is configured for rule set %q: add it under rulesets: in the config file", rs.Name)
	}
	q := strings.TrimRight(strings.TrimSpace(src.Query), ";")
	if !strings.ContainsAny(q, " \n\t") {
		// A bare table or view name.
		parts := strings.Split(q, ".")
		for i, p := range parts {
			parts[i] = quoteIdent(p)
		}
		q = "SELECT * FROM " + strings.Join(parts, ".")
	}
	return q, nil
}
