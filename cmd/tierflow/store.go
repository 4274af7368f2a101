package main

// This is the one file of the command that knows the store and source
// packages: everything else reaches them through the interfaces below
// and those package jobs declares.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tierflow/tierflow/internal/gctune"
	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/destinations/filedest"
	"github.com/tierflow/tierflow/jobs/destinations/fxiaoke"
	"github.com/tierflow/tierflow/jobs/destinations/webhook"
	"github.com/tierflow/tierflow/jobs/destinations/zoho"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/sqlite"
	"github.com/tierflow/tierflow/rules"
)

// stateStore is what the commands need from a state store: PostgreSQL in
// production, or the embedded SQLite file.
type stateStore interface {
	jobs.StateStore
	jobs.RunRecorder
	jobs.SlotStore
	Close() error
	// Ping checks that the database answers, for /readyz.
	Ping(ctx context.Context) error
	// Schema names where tierflow's tables are, for messages.
	Schema() string
	// Redact removes secrets (the database URL and password) from text.
	Redact(text string) string
	Migrate(ctx context.Context, dryRun bool) (*kernel.MigrationStatus, error)
	MigrationStatus(ctx context.Context) (*kernel.MigrationStatus, error)
	History(ctx context.Context, ruleset, customer string) ([]kernel.HistoryEntry, error)
	Actions(ctx context.Context, f kernel.ActionFilter) ([]kernel.QueuedAction, error)
	Runs(ctx context.Context, ruleset string, limit int) ([]kernel.Run, error)
	// The delivery queue (tierflow deliver, tierflow actions).
	jobs.Queue
	Attempts(ctx context.Context, actionID int64) ([]jobs.Attempt, error)
	RetryAction(ctx context.Context, id int64, now time.Time) error
	CancelAction(ctx context.Context, id int64) error
	// Outcomes (tierflow actions done|fail, serve's outcome endpoint).
	jobs.OutcomeStore
}

var (
	_ stateStore = (*postgres.Store)(nil)
	_ stateStore = (*sqlite.Store)(nil)
	// coverage and effects read runs' stored reports.
	_ runReportReader = (*postgres.Store)(nil)
	_ runReportReader = (*sqlite.Store)(nil)
)

// factsChecker is a facts source that can check itself against a rule
// set's facts schema, for check --db.
type factsChecker interface {
	CheckFacts(ctx context.Context, rs *rules.RuleSet) ([]string, error)
}

// schemaSource is a facts source that can describe its columns as a
// facts schema, for rule files that declare no facts.
type schemaSource interface {
	FactsSchema(ctx context.Context, rs *rules.RuleSet) (*rules.Schema, error)
}

// defaultDatabaseFile is the embedded store used when no database is
// configured, beside the config file.
const defaultDatabaseFile = "tierflow.db"

// backend says which state store the config selects.
type backend struct {
	url  string // PostgreSQL, when set
	from string // where url came from, for messages: "$VAR" or "database.url_file"
	path string // the SQLite file otherwise
}

func (b backend) String() string {
	if b.url != "" {
		return "PostgreSQL"
	}
	return "the embedded store " + b.path
}

// backend picks the state store: database.path selects the embedded
// SQLite file; a URL (from database.url_file, or the environment variable
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
		return backend{url: url, from: urlSource(env, c.Database.URLFile)}, err
	}
	return backend{path: c.relative(defaultDatabaseFile)}, nil
}

func (c *config) relative(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// openState connects to the selected state store.
func (b backend) openState(ctx context.Context, schema string) (stateStore, error) {
	return b.open(ctx, schema, false)
}

// openStateCreating is openState that creates the embedded store's file
// when it is missing: for tierflow migrate, the one command that makes
// state where there is none.
func (b backend) openStateCreating(ctx context.Context, schema string) (stateStore, error) {
	return b.open(ctx, schema, true)
}

func (b backend) open(ctx context.Context, schema string, create bool) (stateStore, error) {
	if b.url != "" {
		s, err := postgres.Open(ctx, postgres.Config{URL: b.url, Schema: schema})
		if err != nil {
			return nil, namedDSN(b.from, err)
		}
		return s, nil
	}
	gctune.Outside(sqlite.ApplyCacheBytes()) // its page caches are outside Go's memory limit
	return sqlite.Open(ctx, sqlite.Config{Path: b.path, MustExist: !create})
}

// wiring is an open state store and the facts sources of every
// configured rule set (a jobs.Sources each, by rule set name), with the
// connections to other databases they need.
type wiring struct {
	state   stateStore
	facts   jobs.FactsByRuleSet
	closers []func() error
	secrets kernel.Secrets // of the other databases
}

// Close closes the state store and every other database.
func (w *wiring) Close() error {
	errs := []error{w.state.Close()}
	for _, c := range w.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Redact removes every configured database's secrets from text.
func (w *wiring) Redact(text string) string {
	if w.state != nil {
		text = w.state.Redact(text)
	}
	return w.secrets.Text(text)
}

// sourceOpener can make a SQL facts source on its database.
type sourceOpener interface {
	Source(query string) *kernel.QuerySource
}

// wire opens the state store and, for each rule set named (by name, in
// the order of cfg.RuleSets; "" skips one), its facts source. Other
// databases are opened once, however many rule sets read them, and not
// at all for rule sets the command does not run.
func (c *config) wire(ctx context.Context, getenv func(string) string, names []string) (*wiring, error) {
	be, err := c.backend(getenv)
	if err != nil {
		return nil, err
	}
	state, err := be.openState(ctx, c.Database.Schema)
	if err != nil {
		return nil, err
	}
	w := &wiring{state: state, facts: jobs.FactsByRuleSet{}}
	dbs := map[string]sourceOpener{"": state.(sourceOpener)}
	for i, r := range c.RuleSets {
		if names[i] == "" {
			continue
		}
		ss := make(jobs.Sources, 0, len(r.Sources))
		for _, sc := range r.Sources {
			src, err := c.openSource(ctx, getenv, w, dbs, sc)
			if err != nil {
				w.Close()
				field := sc.field
				if field == "" {
					field = fmt.Sprintf("rulesets[%d].source", i)
				}
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			ss = append(ss, sc.jobsSource(src))
		}
		if err := c.wireTransactions(ctx, getenv, w, dbs, r, ss); err != nil { // configsources.go
			w.Close()
			return nil, fmt.Errorf("rulesets[%d].transactions: %w", i, err)
		}
		w.facts[names[i]] = ss
	}
	return w, nil
}

// sources returns the sources wired for the rule set name, nil when it
// has none.
func (w *wiring) sources(name string) jobs.Sources {
	ss, _ := w.facts.For(name).(jobs.Sources)
	return ss
}

func (c *config) openSource(ctx context.Context, getenv func(string) string, w *wiring, dbs map[string]sourceOpener, s sourceConfig) (jobs.FactsSource, error) {
	if s.File != "" {
		return factsfile.Open(c.relative(s.File), s.Format)
	}
	db, ok := dbs[s.Database]
	if !ok {
		d, ok := c.Databases[s.Database]
		if !ok {
			return nil, fmt.Errorf("database %q is not declared under databases", s.Database)
		}
		opened, secrets, err := c.openDatabase(ctx, getenv, s.Database, d)
		if err != nil {
			return nil, err
		}
		w.closers = append(w.closers, opened.Close)
		w.secrets = append(w.secrets, secrets...)
		dbs[s.Database] = opened
		db = opened
	}
	q := s.Query
	if q == "" {
		q = s.Table
	}
	return db.Source(q), nil
}

// openDatabase connects to another database facts are read from.
func (c *config) openDatabase(ctx context.Context, getenv func(string) string, name string, d databaseConfig) (interface {
	sourceOpener
	Close() error
}, kernel.Secrets, error) {
	switch d.Driver {
	case "sqlite":
		db, err := sqlite.OpenDatabase(ctx, c.relative(d.Path), name)
		if err != nil {
			return nil, nil, err
		}
		return db, nil, nil
	case "postgres":
		url, err := c.urlOf(getenv, "databases."+name, d.URLEnv, d.URLFile)
		if err != nil {
			return nil, nil, err
		}
		db, err := postgres.OpenDatabase(ctx, url, name)
		if err != nil {
			return nil, nil, namedDSN("databases."+name+" ("+urlSource(d.URLEnv, d.URLFile)+")", err)
		}
		return db, kernel.SecretsOf(url), nil
	}
	return nil, nil, fmt.Errorf("databases.%s.driver: %q is not postgres or sqlite", name, d.Driver)
}

// openFactsFile opens a CSV or JSON Lines export (or a glob of them) as
// the facts of every rule set, for plan --facts.
func openFactsFile(pattern string) (jobs.FactsSource, error) {
	return factsfile.Open(pattern, "")
}

// loadGenerated replaces table in the configured PostgreSQL database with
// generated rows, for tierflow gen --postgres-table.
func loadGenerated(ctx context.Context, url, table string, rows gen.Rows) (int64, error) {
	store, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		return 0, err
	}
	defer store.Close()
	n, err := gen.LoadPostgres(ctx, store.DB().DB, table, rows)
	if err != nil {
		return n, fmt.Errorf("%s", store.Redact(err.Error()))
	}
	return n, nil
}

// sourceLabel describes a rule set's facts source for messages, without
// secrets.
func (s sourceConfig) label() string {
	switch {
	case s.File != "":
		return "file " + s.File
	case s.Database != "":
		return "database " + s.Database
	case s.Table != "":
		return "table " + s.Table
	}
	return "a query on the state database"
}

// urlSource says where a URL is read from, for messages.
func urlSource(env, file string) string {
	switch {
	case file != "":
		return "url_file " + file
	case env != "":
		return "$" + env
	}
	return "$" + defaultURLEnv
}

// namedDSN says where an unreadable connection string came from; the
// string itself is never shown.
func namedDSN(from string, err error) error {
	var bad *kernel.DSNError
	if errors.As(err, &bad) {
		return fmt.Errorf("%s: %w", from, err)
	}
	return err
}

// urlOf reads a database URL from the file or the environment variable
// the config names for it; field names the config entry in messages.
func (c *config) urlOf(getenv func(string) string, field, env, file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(c.relative(file))
		if err != nil {
			return "", fmt.Errorf("%s.url_file: %w", field, err)
		}
		if u := strings.TrimSpace(string(b)); u != "" {
			return u, nil
		}
		return "", fmt.Errorf("%s.url_file: %s is empty", field, file)
	}
	if u := strings.TrimSpace(getenv(env)); u != "" {
		return u, nil
	}
	return "", fmt.Errorf("%s: set %s to the database URL (e.g. postgres://user@host/db), or set url_file", field, env)
}

// openDestination makes the destination name declares. Secrets are read
// here, from the environment or a file, and go nowhere but into it.
// A file destination writes to stdout when its path is "-"; closer
// closes what the destination opened.
func (c *config) openDestination(getenv func(string) string, stdout io.Writer, name string, dc destinationConfig) (d jobs.Destination, closer func() error, err error) {
	none := func() error { return nil }
	field := "destinations." + name
	switch dc.Type {
	case "webhook":
		secrets, err := c.webhookSecrets(getenv, name, dc)
		if err != nil {
			return nil, nil, err
		}
		headers, err := c.webhookHeaders(getenv, name, dc)
		if err != nil {
			return nil, nil, err
		}
		d, err := webhook.New(webhook.Config{URL: dc.URL, Secrets: secrets, Timeout: dc.Timeout, Headers: headers})
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", field, err)
		}
		return d, none, nil
	case "file":
		path := dc.Path
		if path != "-" {
			path = c.relative(path)
		}
		d, err := filedest.New(path, filedest.WithWriter(stdout), filedest.WithSync(dc.Sync))
		if err != nil {
			return nil, nil, fmt.Errorf("%s.path: %w", field, err)
		}
		return d, d.Close, nil
	case "zoho", "fxiaoke":
		d, err := c.openCRM(getenv, name, dc)
		if err != nil {
			return nil, nil, err
		}
		return d, none, nil
	}
	return nil, nil, fmt.Errorf("%s.type: %q is not webhook, file, zoho or fxiaoke", field, dc.Type)
}

// openCRM makes a Zoho CRM or Fxiaoke destination, its credentials read
// from where the config names them. An error of the connector (such as
// a field template) is reported at the destination's position.
func (c *config) openCRM(getenv func(string) string, name string, dc destinationConfig) (jobs.Destination, error) {
	secrets, err := c.crmSecrets(getenv, name, dc)
	if err != nil {
		return nil, err
	}
	var d jobs.Destination
	switch {
	case dc.Zoho != nil:
		zc := *dc.Zoho
		zc.ClientID, zc.ClientSecret, zc.RefreshToken = secrets["client_id"], secrets["client_secret"], secrets["refresh_token"]
		d, err = zoho.New(zc)
	case dc.Fxiaoke != nil:
		fc := *dc.Fxiaoke
		fc.AppID, fc.AppSecret, fc.PermanentCode = secrets["app_id"], secrets["app_secret"], secrets["permanent_code"]
		d, err = fxiaoke.New(fc)
	default:
		return nil, fmt.Errorf("%s: destinations.%s: no %s settings", dc.pos, name, dc.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: destinations.%s: %w", dc.pos, name, err)
	}
	return d, nil
}
