package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// The interfaces package jobs declares.
var (
	_ jobs.StateStore  = (*Store)(nil)
	_ jobs.Joiner      = (*Store)(nil)
	_ jobs.RunRecorder = (*Store)(nil)
	_ jobs.SlotStore   = (*Store)(nil)
)

// DefaultBusyTimeout is how long a write waits for another connection's
// write transaction (SQLite has one writer at a time) before it fails.
const DefaultBusyTimeout = time.Minute

// Config configures a Store.
type Config struct {
	// Path is the database file; it is created if missing, unless
	// MustExist is set.
	Path string
	// MustExist makes Open fail, creating nothing, when Path does not
	// exist: commands other than tierflow migrate only read or change
	// existing state, and must not leave an empty database behind.
	MustExist bool
	// BusyTimeout is how long a write waits for the database's write lock;
	// default DefaultBusyTimeout. Applies hold that lock only while they
	// commit, never while they evaluate.
	BusyTimeout time.Duration
}

// ErrNoDatabase is what Open with Config.MustExist returns (errors.Is)
// when the file does not exist.
var ErrNoDatabase = errors.New("no database file")

// missingFile is the ErrNoDatabase of one path, saying what to do.
type missingFile string

func (p missingFile) Error() string {
	return fmt.Sprintf("tierflow's state file %s does not exist yet: run `tierflow migrate` first", string(p))
}

func (p missingFile) Is(target error) bool { return target == ErrNoDatabase }

// Store is a SQLite-backed store in one file. It is safe for concurrent
// use, and several processes may use one file at a time.
type Store struct {
	db   *sqlx.DB // read-write connections; BeginTx starts BEGIN IMMEDIATE
	ro   *sqlx.DB // connections with PRAGMA query_only: snapshots and queries
	path string
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
	if cfg.MustExist {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, missingFile(path)
		}
	}
	busy := cfg.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	s := &Store{path: path}
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

// Source is a facts source on the store's own file: a SQL query, or a
// table or view name, returning one row per customer with the key column
// and a column per fact. Runs read it joined to state in one query.
func (s *Store) Source(query string) *kernel.QuerySource {
	return kernel.NewQuerySource(s.ro.DB, Dialect, query, s, "", nil)
}

func (s *Store) tables() kernel.Tables {
	return kernel.Tables{State: "main.customer_state", Layout: "main.state_layout", Tally: "main.state_tally",
		History: "main.history", Actions: "main.actions"}
}

// Join reads a source of the store's own file joined to state in one
// read transaction. It implements jobs.Joiner.
func (s *Store) Join(ctx context.Context, rs *rules.RuleSet, src jobs.FactsSource) (jobs.Snapshot, bool, error) {
	return kernel.Join(ctx, s, src, s.tables(), rs, s.checkSchema)
}

// OpenState opens a read transaction on rs's state, for facts that come
// from elsewhere.
func (s *Store) OpenState(ctx context.Context, rs *rules.RuleSet) (jobs.StateReader, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	return kernel.OpenStateReader(ctx, s.ro.DB, Dialect, s.tables(), rs, nil)
}

// Database is another SQLite file that facts are read from, read-only; it
// keeps no state.
type Database struct {
	db    *sqlx.DB
	label string
}

// OpenDatabase opens the file at path read-only; label names it in
// messages. The file must exist.
func OpenDatabase(ctx context.Context, path, label string) (*Database, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("database %s: %w", label, err)
	}
	db, err := openPool(ctx, path, DefaultBusyTimeout, "_query_only=1")
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", label, err)
	}
	return &Database{db: db, label: label}, nil
}

// Source is a facts source on the database.
func (d *Database) Source(query string) *kernel.QuerySource {
	return kernel.NewQuerySource(d.db.DB, Dialect, query, nil, d.label, nil)
}

// Close closes the connection pool.
func (d *Database) Close() error { return d.db.Close() }

// Ping checks that the database file can be read.
func (s *Store) Ping(ctx context.Context) error { return s.ro.PingContext(ctx) }

// CheckTally compares the rule set's state tally with a count of its
// state rows (kernel.CheckTally).
func (s *Store) CheckTally(ctx context.Context, ruleset string) error {
	return kernel.CheckTally(ctx, s.db, Dialect, s.tables(), ruleset)
}
