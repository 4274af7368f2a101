package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// serveFlags are serve's flags.
type serveFlags struct {
	db              dbFlags
	listen          *string
	lease           *time.Duration
	connectRetry    *time.Duration
	connectRetryMax *time.Duration
}

func addServeFlags(fs *flag.FlagSet) serveFlags {
	return serveFlags{
		db:              addDBFlags(fs),
		listen:          fs.String("listen", "", "`address` for /healthz, /readyz, /metrics and the outcome endpoint (default serve.listen, else 127.0.0.1:9090)"),
		lease:           fs.Duration("slot-lease", time.Minute, "how long a slot's claim lasts unless its replica renews it (every third of it); another replica takes a lapsed claim over"),
		connectRetry:    fs.Duration("connect-retry", 500*time.Millisecond, "wait after the first failed attempt to reach the database at start; it doubles after each failure"),
		connectRetryMax: fs.Duration("connect-retry-max", 30*time.Second, "longest wait between attempts to reach the database at start"),
	}
}

// serveSettings are what serve takes from its flags and config before it
// reaches a database. An error in them stops serve at once: waiting
// would not fix it.
type serveSettings struct {
	addr               string
	deadline, shutdown time.Duration
	lease              time.Duration
	secrets            kernel.Secrets // of every configured database URL
}

// serveSettings reads and checks the config, the rule files' heads and
// the flags, with no database opened.
func (a *app) serveSettings(f serveFlags) (serveSettings, error) {
	var s serveSettings
	if err := defaultConfigExists(*f.db.config); err != nil {
		return s, err
	}
	cfg, err := loadConfig(*f.db.config)
	if err != nil {
		return s, err
	}
	for _, r := range cfg.RuleSets {
		if _, err := readRuleHead(cfg.rulesPath(r)); err != nil {
			return s, err
		}
	}
	if s.deadline, s.shutdown, err = cfg.Serve.durations(); err != nil {
		return s, err
	}
	s.lease = *f.lease
	if s.lease < time.Second || s.lease >= s.deadline {
		return s, fmt.Errorf("--slot-lease %s: a lease is at least 1s and shorter than serve.starting_deadline (%s), so that a dead replica's slot is taken over in time", s.lease, s.deadline)
	}
	if *f.connectRetry <= 0 || *f.connectRetryMax < *f.connectRetry {
		return s, fmt.Errorf("--connect-retry %s, --connect-retry-max %s: both must be above 0, the max at least the first wait (e.g. --connect-retry 500ms --connect-retry-max 30s)", *f.connectRetry, *f.connectRetryMax)
	}
	if s.secrets, err = cfg.databaseSecrets(a.getenv); err != nil {
		return s, err
	}
	s.addr = *f.listen
	if s.addr == "" {
		s.addr = cfg.Serve.Listen
	}
	if s.addr == "" {
		s.addr = "127.0.0.1:9090"
	}
	return s, nil
}

// databaseSecrets are the secrets of every database URL the config
// names, for redacting errors before the databases are open. A missing
// state database URL is an error; the other databases' are reported when
// they are opened.
func (c *config) databaseSecrets(getenv func(string) string) (kernel.Secrets, error) {
	be, err := c.backend(getenv)
	if err != nil {
		return nil, err
	}
	secrets := kernel.SecretsOf(be.url)
	for name, d := range c.Databases {
		if d.Driver != "postgres" {
			continue
		}
		if url, err := c.urlOf(getenv, "databases."+name, d.URLEnv, d.URLFile); err == nil {
			secrets = append(secrets, kernel.SecretsOf(url)...)
		}
	}
	return secrets, nil
}

// serveConn is what serve runs on once its databases are reached.
type serveConn struct {
	cfg  *config
	w    *wiring
	sets []configured
}

// connect is one attempt to open serve's databases, compile its rule
// sets against their sources and check the state schema is migrated.
// What openDB prints (rule-file errors) goes to printed, for the log.
func (a *app) connect(ctx context.Context, f dbFlags, printed *bytes.Buffer) (*serveConn, error) {
	quiet := *a
	quiet.stderr = printed
	printed.Reset()
	cfg, w, sets, err := quiet.openDB(ctx, f)
	if err != nil {
		return nil, err
	}
	st, err := w.state.MigrationStatus(ctx)
	if err == nil {
		err = st.Check(w.state.Schema())
	}
	if err != nil {
		w.Close()
		return nil, err // the store redacts its errors
	}
	return &serveConn{cfg: cfg, w: w, sets: sets}, nil
}

// waitForDatabase connects, retrying as wait says. On failure, printed
// is what the last attempt printed of rule-file errors.
func (a *app) waitForDatabase(ctx context.Context, f dbFlags, wait *dbWait) (conn *serveConn, printed string, err error) {
	var out bytes.Buffer
	err = wait.run(ctx, func(actx context.Context) error {
		c, err := a.connect(actx, f, &out)
		conn = c
		return err
	})
	if err != nil {
		if conn != nil { // reached just as serve was stopped
			conn.w.Close()
		}
		return nil, out.String(), err
	}
	return conn, "", nil
}

// startFailed logs why serve cannot start, every rule error as an item
// of errors, and returns the exit code.
func startFailed(logger *slog.Logger, redact func(string) string, err error, printed string) int {
	msg := err.Error()
	var errs []string
	var list rules.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		msg, _, _ = strings.Cut(list[0].String(), "\n") // the first error, on one line
		for _, d := range list {
			errs = append(errs, redact(d.String()))
		}
	}
	for _, p := range strings.Split(strings.TrimSpace(printed), "\n\n") {
		if p != "" {
			errs = append(errs, redact(p))
		}
	}
	attrs := []any{"error", redact(msg)}
	if len(errs) > 0 {
		attrs = append(attrs, "errors", errs)
	}
	logger.Error("serve cannot start; fix the error and start it again", attrs...)
	return exitFailure
}

// logDiagnostics logs rule errors found after the database was reached
// (such as actions delivered to undeclared destinations), one item each.
func logDiagnostics(logger *slog.Logger, msg string, ds []rules.Diagnostic) int {
	errs := make([]string, len(ds))
	for i, d := range ds {
		errs[i] = d.String()
	}
	logger.Error(msg, "errors", errs)
	return exitFailure
}
