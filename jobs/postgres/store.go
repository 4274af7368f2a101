package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver

	"github.com/tierflow/tierflow/rules"
)

// migrateLockKey is the advisory lock migrations take.
const migrateLockKey = 7_366_001

// Source is where a rule set's facts come from: a SQL query (or a table or
// view name) returning one row per customer, with a key column and a
// column per fact.
type Source struct {
	Query string
}

// Config configures a Store.
type Config struct {
	// URL is the connection string, a secret: it is never printed, and is
	// removed from error messages.
	URL string
	// Schema holds tierflow's own tables; default "tierflow".
	Schema string
	// Sources maps rule set names to their facts sources.
	Sources map[string]Source
}

// Store is a PostgreSQL-backed store. It is safe for concurrent use.
type Store struct {
	db      *sqlx.DB
	schema  string
	sources map[string]Source
	secrets []string
}

// Open connects to the database and checks the connection.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("no database URL")
	}
	s := &Store{schema: cfg.Schema, sources: cfg.Sources, secrets: secretsOf(cfg.URL)}
	if s.schema == "" {
		s.schema = "tierflow"
	}
	db, err := sqlx.Open("postgres", cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", s.redact(err))
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", s.redact(err))
	}
	s.db = db
	return s, nil
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the connection pool, for tests and tools.
func (s *Store) DB() *sqlx.DB { return s.db }

// Schema returns the name of tierflow's schema.
func (s *Store) Schema() string { return s.schema }

func (s *Store) table(name string) string { return quoteIdent(s.schema) + "." + name }

// secretsOf returns the parts of a connection string that must never be
// shown: the whole string and its password.
func secretsOf(dsn string) []string {
	out := []string{dsn}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, p, url.QueryEscape(p))
		}
	}
	for _, field := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(field, "password="); ok && v != "" {
			out = append(out, strings.Trim(v, "'"))
		}
	}
	return out
}

// redact removes secrets from an error's text.
func (s *Store) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, secret := range s.secrets {
		if len(secret) >= 3 {
			clean = strings.ReplaceAll(clean, secret, "[REDACTED]")
		}
	}
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Redact removes the database URL and password from text, for callers
// that print errors from elsewhere.
func (s *Store) Redact(text string) string {
	for _, secret := range s.secrets {
		if len(secret) >= 3 {
			text = strings.ReplaceAll(text, secret, "[REDACTED]")
		}
	}
	return text
}

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
