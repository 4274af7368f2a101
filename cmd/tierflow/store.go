package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/jmoiron/sqlx"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/sqlite"
	"github.com/tierflow/tierflow/rules"
)

// stateStore is what the commands need from a backend: PostgreSQL in
// production, or the embedded SQLite file.
type stateStore interface {
	jobs.Store
	jobs.RunRecorder
	jobs.SlotStore
	Close() error
	DB() *sqlx.DB
	Schema() string
	// Redact removes secrets (the database URL and password) from text.
	Redact(text string) string
	Migrate(ctx context.Context, dryRun bool) (*postgres.MigrationStatus, error)
	MigrationStatus(ctx context.Context) (*postgres.MigrationStatus, error)
	SourceSchema(ctx context.Context, rs *rules.RuleSet) (*rules.Schema, error)
	CheckSource(ctx context.Context, rs *rules.RuleSet) ([]string, error)
	Customer(ctx context.Context, rs *rules.RuleSet, key string) (*engine.Customer, error)
	History(ctx context.Context, ruleset, customer string) ([]postgres.HistoryEntry, error)
	Actions(ctx context.Context, f postgres.ActionFilter) ([]postgres.QueuedAction, error)
	Runs(ctx context.Context, ruleset string, limit int) ([]postgres.Run, error)
}

var (
	_ stateStore = (*postgres.Store)(nil)
	_ stateStore = (*sqlite.Store)(nil)
)

// defaultDatabaseFile is the embedded store used when no database is
// configured, beside the config file.
const defaultDatabaseFile = "tierflow.db"

// backend says which store the config selects.
type backend struct {
	url  string // PostgreSQL, when set
	path string // the SQLite file otherwise
}

func (b backend) String() string {
	if b.url != "" {
		return "PostgreSQL"
	}
	return "the embedded store " + b.path
}

// backend picks the store: database.path selects the embedded SQLite
// file; a URL (from database.url_file, or the environment variable
// database.url_env names, default TIERFLOW_DATABASE_URL) selects
// PostgreSQL; with neither, the embedded file tierflow.db beside the
// config. A url_env the config names explicitly must be set.
func (c *config) backend(getenv func(string) string) (backend, error) {
	if c.Database.Path != "" {
		if c.Database.URLFile != "" || c.Database.URLEnv != "" {
			return backend{}, fmt.Errorf("database: set path (the embedded store) or url_env/url_file (PostgreSQL), not both")
		}
		return backend{path: c.relative(c.Database.Path)}, nil
	}
	env := c.Database.URLEnv
	if c.Database.URLFile != "" || (env == "" && getenv(defaultURLEnv) != "") || env != "" {
		url, err := c.databaseURL(getenv)
		return backend{url: url}, err
	}
	return backend{path: c.relative(defaultDatabaseFile)}, nil
}

func (c *config) relative(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// open connects to the selected store.
func (b backend) open(ctx context.Context, schema string, sources map[string]postgres.Source) (stateStore, error) {
	if b.url != "" {
		return postgres.Open(ctx, postgres.Config{URL: b.url, Schema: schema, Sources: sources})
	}
	return sqlite.Open(ctx, sqlite.Config{Path: b.path, Sources: sources})
}
