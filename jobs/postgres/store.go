package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq" // the PostgreSQL driver, and its errors

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// migrateLockKey is the advisory lock migrations take.
const migrateLockKey = 7_366_001

// Config configures a Store.
type Config struct {
	// URL is the connection string, a secret: it is never printed, and is
	// removed from error messages.
	URL string
	// Schema holds tierflow's own tables; default "tierflow".
	Schema string
}

// Store is a PostgreSQL-backed state store. It is safe for concurrent use.
type Store struct {
	db      *sqlx.DB
	schema  string
	secrets kernel.Secrets
}

// The interfaces package jobs declares.
var (
	_ jobs.StateStore  = (*Store)(nil)
	_ jobs.Joiner      = (*Store)(nil)
	_ jobs.RunRecorder = (*Store)(nil)
	_ jobs.SlotStore   = (*Store)(nil)
)

// Open connects to the database and checks the connection.
// idleConns is how many idle connections a store keeps open.
const idleConns = 16

func Open(ctx context.Context, cfg Config) (*Store, error) {
	db, secrets, err := connect(ctx, cfg.URL)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, schema: cfg.Schema, secrets: secrets}
	if s.schema == "" {
		s.schema = "tierflow"
	}
	return s, nil
}

// inUTC is the connection string dsn with the session's time zone set
// to UTC at connection start, unless dsn sets one itself. lib/pq returns
// timestamptz values in the session's zone, and the server's default is
// whatever it was set up with: on a server in America/New_York, history
// and queue times came back the evening before, and a run's as-of of
// 2024-07-01 showed as 2024-06-30. The reads that compute with times set
// UTC for their own transaction regardless (utcSQL). The setting is
// appended to the text as written, so that the secrets found in it are
// the same.
func inUTC(dsn string) string {
	if strings.Contains(strings.ToLower(dsn), "timezone") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if strings.Contains(dsn, "#") {
			return dsn
		}
		if strings.Contains(dsn, "?") {
			return dsn + "&timezone=UTC"
		}
		return dsn + "?timezone=UTC"
	}
	return dsn + " timezone=UTC"
}

func connect(ctx context.Context, url string) (*sqlx.DB, kernel.Secrets, error) {
	if url == "" {
		return nil, nil, errors.New("no database URL")
	}
	// lib/pq's parse errors quote the string, and a password with them;
	// one that cannot be read is refused first, in words.
	if err := kernel.CheckDSN(url); err != nil {
		return nil, nil, err
	}
	secrets := kernel.SecretsOf(url)
	db, err := sqlx.Open("postgres", inUTC(url))
	if err != nil {
		return nil, nil, fmt.Errorf("open database: %w", secrets.Err(err))
	}
	// database/sql keeps 2 idle connections by default: a delivery worker
	// finishing 8 actions at once would open a connection for most of
	// its statements (a TCP and authentication round trip each). Keep as
	// many idle as a run and its workers use at once.
	db.SetMaxIdleConns(idleConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		if errors.Is(err, pq.ErrSSLNotSupported) {
			// lib/pq asks for TLS unless told otherwise (sslmode=require).
			return nil, nil, fmt.Errorf("connect to database: %w (the server does not offer TLS: for a local server, add sslmode=disable to the URL, e.g. postgres://host/db?sslmode=disable)", err)
		}
		return nil, nil, fmt.Errorf("connect to database: %w", secrets.Err(err))
	}
	return db, secrets, nil
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the connection pool, for tests and tools.
func (s *Store) DB() *sqlx.DB { return s.db }

// Schema returns the name of tierflow's schema.
func (s *Store) Schema() string { return s.schema }

func (s *Store) table(name string) string { return kernel.QuoteIdent(s.schema) + "." + name }

func (s *Store) tables() kernel.Tables {
	return kernel.Tables{State: s.table("customer_state"), Layout: s.table("state_layout"), Tally: s.table("state_tally"),
		History: s.table("history"), Actions: s.table("actions")}
}

func (s *Store) redact(err error) error { return s.secrets.Err(err) }

// Redact removes the database URL and password from text, for callers
// that print errors from elsewhere.
func (s *Store) Redact(text string) string { return s.secrets.Text(text) }

// Source is a facts source on the store's own database: a SQL query, or a
// table or view name, returning one row per customer with the key column
// and a column per fact. Runs read it joined to state in one query.
func (s *Store) Source(query string) *kernel.QuerySource {
	return kernel.NewQuerySource(s.db.DB, Dialect, query, s, "", s.secrets)
}

// Join reads a source of the store's own database joined to state in one
// repeatable-read, READ ONLY transaction. It implements jobs.Joiner.
func (s *Store) Join(ctx context.Context, rs *rules.RuleSet, src jobs.FactsSource) (jobs.Snapshot, bool, error) {
	return kernel.Join(ctx, s, src, s.tables(), rs, s.checkSchema)
}

// OpenState opens a repeatable-read, READ ONLY view of rs's state, for
// facts that come from elsewhere.
func (s *Store) OpenState(ctx context.Context, rs *rules.RuleSet) (jobs.StateReader, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	return kernel.OpenStateReader(ctx, s.db.DB, Dialect, s.tables(), rs, s.secrets)
}

// Database is another PostgreSQL database that facts are read from; it
// keeps no state.
type Database struct {
	db      *sqlx.DB
	label   string
	secrets kernel.Secrets
}

// OpenDatabase connects to a database facts come from; label names it in
// messages (the config's name for it, never its URL).
func OpenDatabase(ctx context.Context, url, label string) (*Database, error) {
	db, secrets, err := connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", label, err)
	}
	return &Database{db: db, label: label, secrets: secrets}, nil
}

// Source is a facts source on the database.
func (d *Database) Source(query string) *kernel.QuerySource {
	return kernel.NewQuerySource(d.db.DB, Dialect, query, nil, d.label, d.secrets)
}

// Close closes the connection pool.
func (d *Database) Close() error { return d.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.redact(s.db.PingContext(ctx)) }

// CheckTally compares the rule set's state tally with a count of its
// state rows (kernel.CheckTally).
func (s *Store) CheckTally(ctx context.Context, ruleset string) error {
	return kernel.CheckTally(ctx, s.db, Dialect, s.tables(), ruleset)
}
