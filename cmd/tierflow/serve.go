package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

Rule files are re-read when they change and on SIGHUP; a file that fails
check is rejected with its errors logged, and the last good version keeps
running. SIGTERM or SIGINT cancels a run in progress (nothing is
half-applied; the run is recorded as cancelled and its slot released for
another replica or the next start) and exits within
serve.shutdown_timeout (default 30s).

HTTP on serve.listen (default 127.0.0.1:9090): /healthz (the process is
up), /readyz (rules loaded and the database reachable), /metrics
(Prometheus), and, when serve.outcomes names the file or variable
holding a bearer token, POST /v1/actions/ID/outcome, where consumers
report how follow-ups ended, as tierflow actions done|fail does
(docs/operations.md); and GET /report, the class report of every rule
set serve runs, as tierflow report writes it (docs/report.md), guarded by
a token when serve.report names one. Logs are JSON lines when stderr is
not a terminal.

When the config declares destinations, serve also delivers queued
actions to them, as tierflow deliver does (serve.deliver: false turns
this off, e.g. to run tierflow deliver as its own service).

Examples:
  tierflow serve
  tierflow serve --config /etc/tierflow/tierflow.yaml --listen 0.0.0.0:9090
  tierflow serve --slot-lease 2m
`

func runServe(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("serve", serveUsage)
	df := addDBFlags(fs)
	listen := fs.String("listen", "", "`address` for /healthz, /readyz, /metrics and the outcome endpoint (default serve.listen, else 127.0.0.1:9090)")
	lease := fs.Duration("slot-lease", time.Minute, "how long a slot's claim lasts unless its replica renews it (every third of it); another replica takes a lapsed claim over")
	if _, code, ok := a.parse(fs, args); !ok {
		return code
	}
	logger := a.logger()
	if a.getenv(testSecondsEnv) == "1" {
		jobs.AllowSecondsForTests()
		logger.Warn(testSecondsEnv + "=1: schedules may have a seconds field; this is for tierflow's own tests, never for production")
	}
	cfg, w, sets, err := a.openDB(ctx, df)
	if err != nil {
		return a.errorf("serve: %v", err)
	}
	defer w.Close()
	deadline, shutdown, err := cfg.Serve.durations()
	if err != nil {
		return a.errorf("serve: %v", err)
	}
	if *lease < time.Second || *lease >= deadline {
		return a.errorf("serve: --slot-lease %s: a lease is at least 1s and shorter than serve.starting_deadline (%s), so that a dead replica's slot is taken over in time", *lease, deadline)
	}
	addr := *listen
	if addr == "" {
		addr = cfg.Serve.Listen
	}
	if addr == "" {
		addr = "127.0.0.1:9090"
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(reg)
	host, _ := os.Hostname()
	sched := &jobs.Scheduler{
		State: w.state, Facts: w.facts, Slots: w.state, StartingDeadline: deadline, Lease: *lease, Logger: logger, Observer: m,
		Owner: fmt.Sprintf("%s:%d", host, os.Getpid()),
	}
	for _, set := range sets {
		if set.rs.Schedule == nil {
			return a.errorf("serve: rule set %s has no schedule: add `schedule: {cron: \"0 2 * * *\", timezone: UTC}` to %s", set.rs.Name, set.rs.File)
		}
		if err := sched.Set(set.rs, runOptions(cfg, set)); err != nil {
			return a.errorf("serve: %v", err)
		}
		logger.Info("rule set scheduled", "ruleset", set.rs.Name, "cron", set.rs.Schedule.Cron, "timezone", set.rs.Schedule.Timezone, "rules_hash", set.rs.Hash)
	}

	var worker *jobs.Worker
	if cfg.Serve.delivers(cfg) {
		if errs := cfg.checkDeliverTo(); len(errs) > 0 {
			printDiagnostics(a.stderr, errs)
			return a.errorf("serve: rule files deliver actions to destinations the config does not declare; fix them first")
		}
		dm := newDeliveryMetrics(reg, cfg.destinationNames())
		if qs, ok := w.state.(queueStatser); ok {
			registerQueueMetrics(reg, qs, cfg.destinationNames(), a.now)
		}
		var closeDests func() error
		worker, closeDests, err = cfg.deliveryWorker(a.getenv, a.stdout, w.state, nil, logger, dm)
		if err != nil {
			return a.errorf("serve: %s", w.Redact(err.Error()))
		}
		defer closeDests() //nolint:errcheck
		logger.Info("delivering actions", "destinations", strings.Join(names(worker.Destinations), ","), "concurrency", worker.Concurrency, "owner", worker.Owner)
	}

	outcomes, err := a.outcomeEndpoint(cfg, w, sched.RuleSet, logger, reg)
	if err != nil {
		return a.errorf("serve: %v", err)
	}
	m.start(ctx, metricsSource{cfg: cfg, store: w.state, sets: sets, ruleSet: sched.RuleSet, outcomes: outcomes, logger: logger})
	reports, err := a.reportEndpoint(cfg, w, ruleSetNames(sets), sched.RuleSet, logger)
	if err != nil {
		return a.errorf("serve: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return a.errorf("serve: listen on %s: %v", addr, err)
	}
	var ready atomic.Bool
	mux := healthMux(reg, &ready, w.state.Ping, outcomes)
	mux.Handle("GET "+reportPath, reports)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server stopped", "error", err.Error())
		}
	}()
	logger.Info("serving", "listen", ln.Addr().String(), "rulesets", len(sets), "starting_deadline", deadline.String(), "slot_lease", lease.String(), "owner", sched.Owner)

	// Runs get a context of their own, cancelled on shutdown.
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	rl := &reloader{cfg: cfg, wiring: w, sched: sched, logger: logger, metrics: m, sets: sets}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sched.Start(runCtx) // catches up on missed slots first
		ready.Store(true)
	}()
	go func() {
		defer wg.Done()
		rl.watch(runCtx)
	}()
	if worker != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := worker.Run(runCtx); err != nil {
				logger.Error("delivery worker stopped", "error", w.Redact(err.Error()))
			}
		}()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			logger.Info("SIGHUP: reloading rule files")
			rl.reloadAll(runCtx)
			continue
		case <-ctx.Done():
		}
		break
	}
	logger.Info("shutting down: cancelling any run in progress", "timeout", shutdown.String())
	ready.Store(false)
	cancelRuns()
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdown)
	defer cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-stopCtx.Done():
	}
	if err := sched.Stop(stopCtx); err != nil {
		logger.Error("a run did not stop in time; exiting anyway (the database rolls it back)", "error", err.Error())
	}
	_ = srv.Shutdown(stopCtx)
	logger.Info("stopped")
	return exitOK
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
	return jobs.Options{Guard: cfg.guardFor(set.cfg), InitialActions: set.cfg.InitialActions, Sync: cfg.syncMap()}
}

// healthMux serves /healthz, /readyz, /metrics and the outcome endpoint.
func healthMux(reg *prometheus.Registry, ready *atomic.Bool, ping func(context.Context) error, outcomes http.Handler) *http.ServeMux {
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
