package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// defaultConfigFile is read when --config is not given and it exists.
const defaultConfigFile = "tierflow.yaml"

// defaultURLEnv names the environment variable holding the database URL.
const defaultURLEnv = "TIERFLOW_DATABASE_URL"

// config is tierflow.yaml: where the database is, and for each rule set
// where its facts come from. Secrets are never in it: database URLs come
// from environment variables or files. It is read as strictly as rule
// files are (see readConfig), and its errors are rules.Diagnostics.
type config struct {
	// Database is tierflow's state database (yaml database:).
	Database struct {
		// URLEnv names the environment variable holding the URL (url_env).
		URLEnv string
		// URLFile is a file holding the URL, e.g. a mounted secret
		// (url_file).
		URLFile string
		// Path is the embedded SQLite file (path); with no database
		// settings at all, tierflow.db beside the config.
		Path   string
		Schema string // schema
	}
	// Databases are other databases facts can be read from, by name
	// (databases:).
	Databases map[string]databaseConfig
	Guard     guardConfig     // guard
	Serve     serveConfig     // serve
	RuleSets  []ruleSetConfig // rulesets
	// Destinations are where actions are delivered, by the name their
	// deliver_to gives (destinations:); Delivery is how (delivery:).
	Destinations map[string]destinationConfig
	Delivery     deliveryConfig

	dir string // the config file's directory; relative paths start there
}

// databaseConfig is another database facts can come from.
type databaseConfig struct {
	Driver  string // driver: "postgres" or "sqlite" (required)
	URLEnv  string // url_env (postgres; a URL never appears in the config itself)
	URLFile string // url_file (postgres)
	Path    string // path (sqlite file, relative to the config's directory)

	pos rules.Pos // where it is declared, for runtime errors
}

// serveConfig configures `tierflow serve`.
type serveConfig struct {
	// Listen is the address of /healthz, /readyz, /metrics and the
	// outcome endpoint; default 127.0.0.1:9090 (loopback only).
	Listen string
	// StartingDeadline is how late a missed slot may still run; default 1h.
	StartingDeadline string
	// ShutdownTimeout bounds how long SIGTERM waits for a run to stop;
	// default 30s.
	ShutdownTimeout string
	// Deliver runs the delivery worker inside serve (deliver); nil means
	// yes when any destination is configured.
	Deliver *bool
	// Outcomes turns on POST /v1/actions/ID/outcome (outcomes), with the
	// place its bearer token is kept.
	Outcomes tokenConfig
	// Report, when it names a token, guards GET /report (report).
	Report tokenConfig
}

func (s serveConfig) durations() (deadline, shutdown time.Duration, err error) {
	deadline, shutdown = time.Hour, 30*time.Second
	if s.StartingDeadline != "" {
		if deadline, err = rules.ParseDuration(s.StartingDeadline); err != nil {
			return 0, 0, fmt.Errorf("serve.starting_deadline: %w", err)
		}
	}
	if s.ShutdownTimeout != "" {
		if shutdown, err = rules.ParseDuration(s.ShutdownTimeout); err != nil {
			return 0, 0, fmt.Errorf("serve.shutdown_timeout: %w", err)
		}
	}
	return deadline, shutdown, nil
}

type guardConfig struct {
	MaxMoved     string // max_moved: "20%" or "0.2"
	MaxActions   *int   // max_actions; 0: no limit
	MaxErrorRate string // max_error_rate: "1%"
	// MaxShrink (max_shrink: "25%") is how far the number of customers may
	// fall against the last successful run; 0: no limit.
	MaxShrink string
}

type ruleSetConfig struct {
	// Rules is the rule file.
	Rules string
	// Sources are where the rule set's facts come from: the one source:,
	// or the list sources:, merged on the customer key. The first is the
	// primary source, whose customers are the rule set's customers.
	Sources []sourceConfig
	// Transactions is where the rule set's transactions (orders) come
	// from, for its derived facts (transactions:); nil when none.
	Transactions   *sourceConfig
	Guard          *guardConfig
	InitialActions bool // initial_actions
	// Incremental (incremental) leaves out of each run the customers
	// whose marks say nothing can have changed (jobs.Options.Incremental).
	Incremental bool
	// FullSchedule (full_schedule) is a cron spec, in the rule set's time
	// zone, of the runs that evaluate everyone all the same
	// (jobs.Options.FullSchedule); "" for none.
	FullSchedule string

	pos rules.Pos
}

// loadConfig reads the config file named by --config, else tierflow.yaml
// when it exists. A missing default file gives an empty config.
func loadConfig(path string) (*config, error) {
	explicit := path != ""
	if !explicit {
		path = defaultConfigFile
	}
	src, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return &config{dir: "."}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parseConfig(path, src)
}

// parseConfig reads and validates a config file. On failure the error is
// a rules.ErrorList holding every problem in the file.
func parseConfig(path string, src []byte) (*config, error) {
	cfg := &config{dir: filepath.Dir(path)}
	d := rules.ParseDocument(path, src)
	if d.Root() != nil {
		(&configReader{Document: d}).config(d.Root(), cfg)
	}
	if d.Err() != nil {
		return nil, redactDiagnostics(d.Diagnostics())
	}
	return cfg, nil
}

// rulesPath resolves a rule file path relative to the config file.
func (c *config) rulesPath(r ruleSetConfig) string {
	if filepath.IsAbs(r.Rules) {
		return r.Rules
	}
	return filepath.Join(c.dir, r.Rules)
}

// databaseURL reads the URL from the configured environment variable or
// file; it never comes from a flag, so it cannot leak through argv.
func (c *config) databaseURL(getenv func(string) string) (string, error) {
	env := c.Database.URLEnv
	if env == "" {
		env = defaultURLEnv
	}
	if c.Database.URLFile == "" && strings.TrimSpace(getenv(env)) == "" {
		return "", fmt.Errorf("no database: set %s to the PostgreSQL URL (e.g. postgres://user@host/db), or set database.url_file in the config", env)
	}
	return c.urlOf(getenv, "database", env, c.Database.URLFile)
}

// guardFor returns the guard for a rule set: defaults, then the config's
// guard, then the rule set's own.
func (c *config) guardFor(r *ruleSetConfig) jobs.Guard {
	g, _ := c.Guard.apply(jobs.DefaultGuard)
	if r != nil && r.Guard != nil {
		g, _ = r.Guard.apply(g)
	}
	return g
}

func (gc guardConfig) apply(g jobs.Guard) (jobs.Guard, error) {
	if gc.MaxMoved != "" {
		v, err := parseShare(gc.MaxMoved)
		if err != nil {
			return g, fmt.Errorf("max_moved: %w", err)
		}
		g.MaxMovedShare = v
	}
	if gc.MaxActions != nil {
		if *gc.MaxActions < 0 {
			return g, errors.New("max_actions: must be 0 (no limit) or more")
		}
		g.MaxActions = *gc.MaxActions
	}
	if gc.MaxErrorRate != "" {
		v, err := parseShare(gc.MaxErrorRate)
		if err != nil {
			return g, fmt.Errorf("max_error_rate: %w", err)
		}
		g.MaxErrorRate = v
	}
	if gc.MaxShrink != "" {
		v, err := parseShare(gc.MaxShrink)
		if err != nil {
			return g, fmt.Errorf("max_shrink: %w", err)
		}
		g.MaxShrinkShare = v
	}
	return g, nil
}

// parseShare parses "20%" or "0.2" into 0.2.
func parseShare(s string) (float64, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a share (write 20%% or 0.2)", s)
	}
	if pct {
		v /= 100
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("%q is not between 0%% and 100%%", s)
	}
	return v, nil
}

// configReader reads tierflow.yaml's nodes into a config, recording every
// problem in its Document.
type configReader struct {
	*rules.Document
}

func (r *configReader) config(root *yaml.Node, c *config) {
	top, ok := r.Mapping(root, "", "database", "databases", "guard", "serve", "rulesets", "destinations", "delivery")
	if !ok {
		return
	}
	r.stateDatabase(top["database"], c)
	c.Databases = r.databases(top["databases"])
	c.Destinations = r.destinations(top["destinations"])
	c.Delivery = r.delivery(top["delivery"])
	c.Guard = r.guard(top["guard"], "guard")
	c.Serve = r.serve(top["serve"])
	for i, n := range r.List(top["rulesets"], "rulesets") {
		if rs, ok := r.ruleSet(n, fmt.Sprintf("rulesets[%d]", i), c.Databases); ok {
			c.RuleSets = append(c.RuleSets, rs)
		}
	}
}

func (r *configReader) stateDatabase(n *yaml.Node, c *config) {
	m, _ := r.Mapping(n, "database", "url_env", "url_file", "path", "schema")
	c.Database.URLEnv, c.Database.URLFile = r.urlSource(m, "database")
	c.Database.Path = r.String(m["path"], "database.path")
	c.Database.Schema = r.String(m["schema"], "database.schema")
	if c.Database.Path != "" && (c.Database.URLEnv != "" || c.Database.URLFile != "") {
		r.Errorf(m["path"], "database.path", "path is the embedded SQLite store; url_env and url_file are for PostgreSQL",
			"set path or url_env/url_file, not both")
	}
}

// urlSource reads the url_env and url_file of a PostgreSQL database, at
// most one of which may be set.
func (r *configReader) urlSource(m map[string]*yaml.Node, field string) (env, file string) {
	env = r.String(m["url_env"], field+".url_env")
	file = r.String(m["url_file"], field+".url_file")
	if looksLikeURL(env) {
		r.Errorf(m["url_env"], field+".url_env", "set url_env to the name of the environment variable that holds it, such as "+defaultURLEnv,
			"a database URL never goes in the config")
	}
	if looksLikeURL(file) {
		r.Errorf(m["url_file"], field+".url_file", "put the URL in a file and set url_file to the file's path",
			"a database URL never goes in the config")
	}
	if env != "" && file != "" {
		key := "url_file"
		if later(m["url_env"], m["url_file"]) == m["url_env"] {
			key = "url_env"
		}
		r.Errorf(m[key], field+"."+key, "keep one: url_env names an environment variable, url_file a file holding the URL",
			"url_env and url_file are both set")
	}
	return env, file
}

func (r *configReader) databases(n *yaml.Node) map[string]databaseConfig {
	entries := r.Entries(n, "databases")
	if len(entries) == 0 {
		return nil
	}
	out := make(map[string]databaseConfig, len(entries))
	for _, e := range entries {
		field := "databases." + e.Key
		r.Name(e.KeyNode, field)
		out[e.Key] = r.database(e, field)
	}
	return out
}

var drivers = []string{"postgres", "sqlite"}

func (r *configReader) database(e rules.Entry, field string) databaseConfig {
	m, _ := r.Mapping(e.Value, field, "driver", "url_env", "url_file", "path")
	db := databaseConfig{pos: r.Pos(e.KeyNode), Path: r.String(m["path"], field+".path")}
	db.URLEnv, db.URLFile = r.urlSource(m, field)
	if r.Required(m, e.KeyNode, field, "driver", "write driver: postgres or driver: sqlite") == nil {
		return db
	}
	db.Driver = r.String(m["driver"], field+".driver")
	switch db.Driver {
	case "postgres":
		if db.Path != "" {
			r.Errorf(m["path"], field+".path", "a postgres database reads its URL from url_env or url_file", "path is for sqlite databases")
		}
		if db.URLEnv == "" && db.URLFile == "" {
			r.Errorf(e.KeyNode, field, "name the environment variable or the file that holds its URL",
				"a postgres database needs url_env or url_file")
		}
	case "sqlite":
		for _, key := range []string{"url_env", "url_file"} {
			if m[key] != nil {
				r.Errorf(m[key], field+"."+key, "a sqlite database is a file: set path", "%s is for postgres databases", key)
			}
		}
		if db.Path == "" {
			r.Errorf(e.KeyNode, field+".path", "name the SQLite file, relative to this config file", "a sqlite database needs path")
		}
	default:
		r.Errorf(m["driver"], field+".driver", rules.Suggest(db.Driver, drivers), "unknown driver %q", db.Driver)
	}
	return db
}

func (r *configReader) guard(n *yaml.Node, field string) guardConfig {
	m, _ := r.Mapping(n, field, "max_moved", "max_actions", "max_error_rate", "max_shrink")
	gc := guardConfig{
		MaxMoved:     r.share(m["max_moved"], field+".max_moved"),
		MaxErrorRate: r.share(m["max_error_rate"], field+".max_error_rate"),
		MaxShrink:    r.share(m["max_shrink"], field+".max_shrink"),
	}
	if v, ok := r.Int(m["max_actions"], field+".max_actions"); ok {
		if v < 0 {
			r.Errorf(m["max_actions"], field+".max_actions", "", "must be 0 (no limit) or more")
		}
		gc.MaxActions = &v
	}
	return gc
}

// share reads a value parseShare accepts.
func (r *configReader) share(n *yaml.Node, field string) string {
	s := r.String(n, field)
	if s != "" {
		if _, err := parseShare(s); err != nil {
			r.Errorf(n, field, "", "%v", err)
		}
	}
	return s
}

func (r *configReader) serve(n *yaml.Node) serveConfig {
	m, _ := r.Mapping(n, "serve", "listen", "starting_deadline", "shutdown_timeout", "deliver", "outcomes", "report")
	sc := serveConfig{
		Listen:           r.String(m["listen"], "serve.listen"),
		StartingDeadline: r.duration(m["starting_deadline"], "serve.starting_deadline"),
		ShutdownTimeout:  r.duration(m["shutdown_timeout"], "serve.shutdown_timeout"),
	}
	if present(m["deliver"]) {
		v := r.Bool(m["deliver"], "serve.deliver")
		sc.Deliver = &v
	}
	sc.Outcomes = r.tokenConfig(m["outcomes"], "serve.outcomes", "TIERFLOW_OUTCOMES_TOKEN", "to keep the endpoint off")
	sc.Report = r.tokenConfig(m["report"], "serve.report", "TIERFLOW_REPORT_TOKEN", "to keep /report open on serve.listen")
	return sc
}

// duration reads a value rules.ParseDuration accepts.
func (r *configReader) duration(n *yaml.Node, field string) string {
	s := r.String(n, field)
	if s != "" {
		if _, err := rules.ParseDuration(s); err != nil {
			r.Errorf(n, field, "", "%v", err)
		}
	}
	return s
}

func (r *configReader) ruleSet(n *yaml.Node, field string, dbs map[string]databaseConfig) (ruleSetConfig, bool) {
	m, ok := r.Mapping(n, field, "rules", "source", "sources", "transactions", "guard", "initial_actions", "incremental", "full_schedule")
	if !ok {
		return ruleSetConfig{}, false
	}
	rs := ruleSetConfig{pos: r.Pos(n), InitialActions: r.Bool(m["initial_actions"], field+".initial_actions"),
		Incremental: r.Bool(m["incremental"], field+".incremental")}
	if fs := m["full_schedule"]; fs != nil {
		rs.FullSchedule = r.String(fs, field+".full_schedule")
		if err := jobs.ValidateSchedule(rs.FullSchedule, "UTC"); err != nil {
			r.Errorf(fs, field+".full_schedule", `a cron spec in the rule set's time zone, e.g. full_schedule: "@weekly" or "0 3 * * 0"`, "%v", err)
		}
	}
	if rn := r.Required(m, n, field, "rules", "name the rule file, e.g. rules: rules/customers.yaml"); rn != nil {
		rs.Rules = r.nonEmpty(rn, field+".rules", "name the rule file, e.g. rules: rules/customers.yaml")
	}
	rs.Sources = r.ruleSetSources(n, m, field, dbs)
	for i, s := range rs.Sources {
		switch {
		case s.changeNode == nil:
		case i > 0:
			r.Errorf(s.changeNode, s.field+".change_column", "move change_column to the first source, or leave it out",
				"change_column works only on the first (primary) source")
		case !rs.Incremental:
			r.Errorf(s.changeNode, s.field+".change_column", "add incremental: true to the rule set, or leave change_column out",
				"change_column is read only by incremental runs, and this rule set is not incremental")
		}
	}
	rs.Transactions = r.transactionsSource(m["transactions"], field+".transactions", dbs)
	if g := m["guard"]; g != nil && g.Tag != "!!null" {
		gc := r.guard(g, field+".guard")
		rs.Guard = &gc
	}
	return rs, true
}

// nonEmpty reads a single value that must not be blank.
func (r *configReader) nonEmpty(n *yaml.Node, field, hint string) string {
	s := r.String(n, field)
	if n != nil && n.Kind == yaml.ScalarNode && strings.TrimSpace(s) == "" {
		r.Errorf(n, field, hint, "must not be empty")
	}
	return s
}

// looksLikeURL reports whether s is a database URL or connection string
// rather than the name of a variable or file.
func looksLikeURL(s string) bool {
	return strings.Contains(s, "://") || strings.Contains(s, "password=") || strings.HasPrefix(s, "host=")
}

// Passwords in a URL or in a key=value connection string.
var (
	urlPasswordRE = regexp.MustCompile(`(://[^/\s:@]*:)[^@\s]*@`)
	kvPasswordRE  = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)
	// webhookSecretRE is a Standard Webhooks signing secret.
	webhookSecretRE = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]*`)
)

// redactDiagnostics keeps passwords written into the config by mistake out
// of its error messages: a snippet showing one is dropped, and a message
// quoting one has it masked. The snippets of a refused credential and of
// anything under serve.outcomes or serve.report (whose tokens have no
// shape to recognise) are dropped too.
func redactDiagnostics(list []rules.Diagnostic) rules.ErrorList {
	out := make(rules.ErrorList, len(list))
	for i, d := range list {
		if urlPasswordRE.MatchString(d.Snippet) || kvPasswordRE.MatchString(d.Snippet) || webhookSecretRE.MatchString(d.Snippet) ||
			strings.Contains(d.Message, "never goes in the config") || strings.HasPrefix(d.Field, "serve.outcomes") ||
			strings.HasPrefix(d.Field, "serve.report") {
			d.Snippet = ""
		}
		d.Message = webhookSecretRE.ReplaceAllString(d.Message, "whsec_xxxxx")
		d.Message = urlPasswordRE.ReplaceAllString(d.Message, "${1}xxxxx@")
		d.Message = kvPasswordRE.ReplaceAllString(d.Message, "${1}xxxxx")
		out[i] = d
	}
	return out
}
