package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
// where its facts come from. Secrets are never in it: the database URL
// comes from an environment variable or a file.
type config struct {
	Database struct {
		// URLEnv names the environment variable holding the URL.
		URLEnv string `yaml:"url_env"`
		// URLFile is a file holding the URL (e.g. a mounted secret).
		URLFile string `yaml:"url_file"`
		// Path is the embedded SQLite file; with no database settings at
		// all, tierflow.db beside the config.
		Path   string `yaml:"path"`
		Schema string `yaml:"schema"`
	} `yaml:"database"`
	Guard    guardConfig     `yaml:"guard"`
	Serve    serveConfig     `yaml:"serve"`
	RuleSets []ruleSetConfig `yaml:"rulesets"`

	dir string // the config file's directory; relative paths start there
}

// serveConfig configures `tierflow serve`.
type serveConfig struct {
	// Listen is the address of /healthz, /readyz and /metrics; default
	// 127.0.0.1:9090 (loopback only).
	Listen string `yaml:"listen"`
	// StartingDeadline is how late a missed slot may still run; default 1h.
	StartingDeadline string `yaml:"starting_deadline"`
	// ShutdownTimeout bounds how long SIGTERM waits for a run to stop;
	// default 30s.
	ShutdownTimeout string `yaml:"shutdown_timeout"`
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
	MaxMoved     string `yaml:"max_moved"`      // "20%" or "0.2"
	MaxActions   *int   `yaml:"max_actions"`    // 0: no limit
	MaxErrorRate string `yaml:"max_error_rate"` // "1%"
}

type ruleSetConfig struct {
	// Rules is the rule file.
	Rules string `yaml:"rules"`
	// Source is a SQL query, or a table or view name, returning one row
	// per customer: the key column and a column per fact.
	Source         string       `yaml:"source"`
	Guard          *guardConfig `yaml:"guard"`
	InitialActions bool         `yaml:"initial_actions"`
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

func parseConfig(path string, src []byte) (*config, error) {
	cfg := &config{dir: filepath.Dir(path)}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && err.Error() != "EOF" {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := cfg.validate(path); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (c *config) validate(path string) error {
	var problems []string
	for i, r := range c.RuleSets {
		if r.Rules == "" {
			problems = append(problems, fmt.Sprintf("rulesets[%d].rules: name the rule file", i))
		}
		if strings.TrimSpace(r.Source) == "" {
			problems = append(problems, fmt.Sprintf("rulesets[%d].source: give the SQL query or table that returns one row per customer", i))
		}
	}
	if c.Database.URLEnv != "" && c.Database.URLFile != "" {
		problems = append(problems, "database: set url_env or url_file, not both")
	}
	if _, _, err := c.Serve.durations(); err != nil {
		problems = append(problems, err.Error())
	}
	if _, err := c.Guard.apply(jobs.DefaultGuard); err != nil {
		problems = append(problems, "guard."+err.Error())
	}
	for i, r := range c.RuleSets {
		if r.Guard != nil {
			if _, err := r.Guard.apply(jobs.DefaultGuard); err != nil {
				problems = append(problems, fmt.Sprintf("rulesets[%d].guard.%v", i, err))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s:\n  %s", path, strings.Join(problems, "\n  "))
	}
	return nil
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
	if f := c.Database.URLFile; f != "" {
		if !filepath.IsAbs(f) {
			f = filepath.Join(c.dir, f)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("database.url_file: %w", err)
		}
		u := strings.TrimSpace(string(b))
		if u == "" {
			return "", fmt.Errorf("database.url_file: %s is empty", f)
		}
		return u, nil
	}
	env := c.Database.URLEnv
	if env == "" {
		env = defaultURLEnv
	}
	u := strings.TrimSpace(getenv(env))
	if u == "" {
		return "", fmt.Errorf("no database: set %s to the PostgreSQL URL (e.g. postgres://user@host/db), or set database.url_file in the config", env)
	}
	return u, nil
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
