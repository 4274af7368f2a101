package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/term"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

const serveUsage = `
Usage: tierflow serve [flags]

Runs as a long-lived service that applies each configured rule set on the
schedule its rule file declares (schedule: {cron: "0 2 * * *", timezone:
Asia/Shanghai}), for systemd or Kubernetes. Several replicas may run
against one database: each scheduled slot is claimed in the database, so
it runs exactly once, in slot order, and two runs of one rule set never
overlap. A claim holds a lease (--slot-lease, default 1m) that the
running replica renews; when a replica dies, another takes its slot
over once the lease lapses. Every slot runs if it can start within
serve.starting_deadline (default 1h) of its time; a slot that cannot is
recorded as missed and logged as an error.

At start, serve reads its config and rule files, listens, and then
reaches its databases (the state database and those facts come from).
While it cannot, because the server is down, unknown to DNS yet, timing
out, starting up or out of connections, serve stays up, live on
/healthz and not ready on /readyz, and tries again after --connect-retry
(default 500ms), doubling up to --connect-retry-max (default 30s), each
wait up to a fifth shorter at random, logging every failed attempt. An
error waiting cannot fix stops it at once, exit 1: a config or rule-file
error, an unreadable database URL, failed authentication, a missing
database, TLS refused, or a schema not migrated (run tierflow migrate
first). SIGTERM or SIGINT while it waits exits 0.

Rule files are re-read when they change and on SIGHUP. Each reload logs
the rules loaded (rule set, file, rules hash, whether they changed, and
whether the file was rejected before) or the file rejected (its first
error with its position, and every error); a rejected file leaves the
last good version running. SIGHUP logs which rule sets changed, stayed
unchanged or were rejected. SIGTERM or SIGINT cancels a run in progress
(nothing is half-applied; the run is recorded as cancelled and its slot
released for another replica or the next start) and exits within
serve.shutdown_timeout (default 30s).

HTTP on serve.listen (default 127.0.0.1:9090): /healthz (the process is
up), /readyz (rules loaded and the database reachable), /metrics
(Prometheus), and, when serve.outcomes names the file or variable
holding a bearer token, POST /v1/actions/ID/outcome, where consumers
report how follow-ups ended, as tierflow actions done|fail does
(docs/operations.md); and GET /report, the class report of every rule
set serve runs, as tierflow report writes it (docs/report.md), guarded by
a token when serve.report names one.

Every line serve logs is JSON when stderr is not a terminal (text when it
is), from the first. Only a mistake on the command line (an unknown
flag, a value that is not a duration) is printed as plain text, with
this usage, before serve starts.

When the config declares destinations, serve also delivers queued
actions to them, as tierflow deliver does (serve.deliver: false turns
this off, e.g. to run tierflow deliver as its own service).

Examples:
  tierflow serve
  tierflow serve --config /etc/tierflow/tierflow.yaml --listen 0.0.0.0:9090
  tierflow serve --slot-lease 2m
  tierflow serve --connect-retry 1s --connect-retry-max 1m
`

func runServe(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("serve", serveUsage)
	f := addServeFlags(fs)
	if _, code, ok := a.parse(fs, args); !ok {
		return code // a mistake on the command line: plain text, before any log
	}
	logger := a.logger()
	if a.getenv(testSecondsEnv) == "1" {
		jobs.AllowSecondsForTests()
		logger.Warn(testSecondsEnv + "=1: schedules may have a seconds field; this is for tierflow's own tests, never for production")
	}
	st, err := a.serveSettings(f)
	if err != nil {
		return startFailed(logger, st.secrets.Text, err, "")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	status := newStartStatus()
	front := newSwitchHandler(waitingMux(reg, status))
	srv, err := listenHTTP(st.addr, front, logger)
	if err != nil {
		return startFailed(logger, st.secrets.Text, err, "")
	}
	defer srv.Close()
	wait := newDBWait(*f.connectRetry, *f.connectRetryMax, logger, status, st.secrets.Text)
	conn, printed, err := a.waitForDatabase(ctx, f.db, wait)
	if ctx.Err() != nil {
		logger.Info("stopped", "while", "waiting for the database")
		return exitOK
	}
	if err != nil {
		return startFailed(logger, st.secrets.Text, err, printed)
	}
	defer conn.w.Close()
	s := &service{app: a, settings: st, conn: conn, logger: logger, reg: reg, metrics: newMetrics(reg), front: front, srv: srv}
	return s.run(ctx)
}

// listenHTTP starts serve's HTTP server on addr, serving h.
func listenHTTP(addr string, h http.Handler, logger *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (set --listen or serve.listen to a free address)", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server stopped", "error", err.Error())
		}
	}()
	logger.Info("listening; not ready until the database is reached", "listen", ln.Addr().String())
	return srv, nil
}

// delivers reports whether serve runs the delivery worker: serve.deliver,
// by default yes when any destination is configured.
func (s serveConfig) delivers(cfg *config) bool {
	if s.Deliver != nil {
		return *s.Deliver && len(cfg.Destinations) > 0
	}
	return len(cfg.Destinations) > 0
}

// testSecondsEnv, set to 1, lets schedules have a seconds field: for
// tierflow's own end-to-end tests of serve (soak_test.go), which need
// slots seconds apart. It is documented as test-only and logged when set.
const testSecondsEnv = "TIERFLOW_TEST_SCHEDULE_SECONDS"

// runOptions are the options of every run of a configured rule set.
func runOptions(cfg *config, set configured) jobs.Options {
	return jobs.Options{Guard: cfg.guardFor(set.cfg), InitialActions: set.cfg.InitialActions, Sync: cfg.syncMap(), Incremental: set.cfg.Incremental,
		FullSchedule: fullSchedule(set)}
}

// fullSchedule is the rule set's full_schedule in its time zone, nil for
// none. The config reader checked the spec and the rule compiler the
// zone; should parsing fail all the same, every run is full, which is
// always right.
func fullSchedule(set configured) jobs.Schedule {
	if set.cfg.FullSchedule == "" {
		return nil
	}
	s, err := jobs.ParseSchedule(set.cfg.FullSchedule, set.rs.Timezone)
	if err != nil {
		return everyRun{}
	}
	return s
}

// everyRun is a schedule whose slots are every instant: every run is full.
type everyRun struct{}

func (everyRun) Next(t time.Time) time.Time { return t }

// healthMux serves /healthz, /readyz, /metrics and the outcome endpoint.
func healthMux(reg prometheus.Gatherer, ready *atomic.Bool, ping func(context.Context) error, outcomes http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(outcomePath, outcomes)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready: starting or stopping", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ping(ctx); err != nil {
			http.Error(w, "not ready: database unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// outcomeEndpoint makes the handler of POST /v1/actions/ID/outcome: off
// (answering 404) unless serve.outcomes names where its token is kept.
// Outcomes are checked against the rule sets serve runs (ruleSet).
func (a *app) outcomeEndpoint(cfg *config, w *wiring, ruleSet func(string) *rules.RuleSet, logger *slog.Logger, reg prometheus.Registerer) (*outcomeHandler, error) {
	h := &outcomeHandler{store: w.state, ruleSet: ruleSet, now: a.now, logger: logger, metrics: newOutcomeMetrics(reg), redact: w.Redact}
	oc := cfg.Serve.Outcomes
	if !oc.configured() {
		return h, nil
	}
	tokens, err := cfg.tokens(oc, a.getenv)
	if err != nil {
		return nil, err
	}
	h.digests = tokenDigests(tokens)
	logger.Info("outcome endpoint on", "path", "POST /v1/actions/{id}/outcome", "token_from", oc.from(), "tokens", len(tokens))
	return h, nil
}

// logger returns a structured logger on stderr: JSON lines when stderr is
// not a terminal (for log collectors), text otherwise.
func (a *app) logger() *slog.Logger {
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return slog.New(slog.NewTextHandler(a.stderr, nil))
	}
	return slog.New(slog.NewJSONHandler(a.stderr, nil))
}
