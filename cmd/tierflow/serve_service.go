package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tierflow/tierflow/jobs"
)

// service is serve once its databases are reached.
type service struct {
	app      *app
	settings serveSettings
	conn     *serveConn
	logger   *slog.Logger
	reg      *prometheus.Registry
	metrics  *metrics
	front    *switchHandler
	srv      *http.Server
	sched    *jobs.Scheduler
	worker   *jobs.Worker
}

// run schedules the rule sets, turns the HTTP endpoints on and serves
// until ctx ends.
func (s *service) run(ctx context.Context) int {
	if code, ok := s.schedule(); !ok {
		return code
	}
	closeDests, code, ok := s.delivery()
	if !ok {
		return code
	}
	defer closeDests() //nolint:errcheck
	var ready atomic.Bool
	h, err := s.handler(ctx, &ready)
	if err != nil {
		return startFailed(s.logger, s.conn.w.Redact, err, "")
	}
	s.front.set(h)
	s.logger.Info("serving", "listen", s.settings.addr, "rulesets", len(s.conn.sets), "starting_deadline", s.settings.deadline.String(),
		"slot_lease", s.settings.lease.String(), "owner", s.sched.Owner)
	return s.loop(ctx, &ready)
}

// schedule hands every rule set to a new scheduler.
func (s *service) schedule() (int, bool) {
	w := s.conn.w
	host, _ := os.Hostname()
	s.sched = &jobs.Scheduler{
		State: w.state, Facts: w.facts, Slots: w.state, StartingDeadline: s.settings.deadline, Lease: s.settings.lease,
		Logger: s.logger, Observer: s.metrics, Owner: fmt.Sprintf("%s:%d", host, os.Getpid()),
	}
	for _, set := range s.conn.sets {
		if set.rs.Schedule == nil {
			err := fmt.Errorf("rule set %s has no schedule: add `schedule: {cron: \"0 2 * * *\", timezone: UTC}` to %s", set.rs.Name, set.rs.File)
			return startFailed(s.logger, w.Redact, err, ""), false
		}
		if err := s.sched.Set(set.rs, runOptions(s.conn.cfg, set)); err != nil {
			return startFailed(s.logger, w.Redact, err, ""), false
		}
		s.logger.Info("rule set scheduled", "ruleset", set.rs.Name, "file", set.rs.File, "cron", set.rs.Schedule.Cron,
			"timezone", set.rs.Schedule.Timezone, "rules_hash", set.rs.Hash)
	}
	return 0, true
}

// delivery makes the delivery worker when serve delivers (s.worker stays
// nil otherwise); closeDests closes what its destinations opened.
func (s *service) delivery() (closeDests func() error, code int, ok bool) {
	cfg, w := s.conn.cfg, s.conn.w
	if !cfg.Serve.delivers(cfg) {
		return func() error { return nil }, 0, true
	}
	if errs := cfg.checkDeliverTo(); len(errs) > 0 {
		return nil, logDiagnostics(s.logger, "serve cannot start: rule files deliver actions to destinations the config does not declare; fix them first", errs), false
	}
	dm := newDeliveryMetrics(s.reg, cfg.destinationNames())
	if qs, ok := w.state.(queueStatser); ok {
		registerQueueMetrics(s.reg, qs, cfg.destinationNames(), s.app.now)
	}
	worker, closeDests, err := cfg.deliveryWorker(s.app.getenv, s.app.stdout, w.state, nil, s.logger, dm)
	if err != nil {
		return nil, startFailed(s.logger, w.Redact, err, ""), false
	}
	s.worker = worker
	s.logger.Info("delivering actions", "destinations", strings.Join(names(worker.Destinations), ","), "concurrency", worker.Concurrency, "owner", worker.Owner)
	return closeDests, 0, true
}

// handler is the full HTTP handler: health, metrics, outcomes, report.
func (s *service) handler(ctx context.Context, ready *atomic.Bool) (http.Handler, error) {
	cfg, w, sets := s.conn.cfg, s.conn.w, s.conn.sets
	outcomes, err := s.app.outcomeEndpoint(cfg, w, s.sched.RuleSet, s.logger, s.reg)
	if err != nil {
		return nil, err
	}
	s.metrics.start(ctx, metricsSource{cfg: cfg, store: w.state, sets: sets, ruleSet: s.sched.RuleSet, outcomes: outcomes, logger: s.logger})
	reports, err := s.app.reportEndpoint(cfg, w, ruleSetNames(sets), s.sched.RuleSet, s.logger)
	if err != nil {
		return nil, err
	}
	mux := healthMux(s.metrics.gatherer(s.reg), ready, w.state.Ping, outcomes)
	mux.Handle("GET "+reportPath, reports)
	return mux, nil
}

// loop runs the scheduler, the rule file watcher and the delivery worker
// until ctx ends, reloading rule files on SIGHUP, then shuts down.
func (s *service) loop(ctx context.Context, ready *atomic.Bool) int {
	// Runs get a context of their own, cancelled on shutdown.
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	rl := &reloader{cfg: s.conn.cfg, wiring: s.conn.w, sched: s.sched, logger: s.logger, metrics: s.metrics, sets: s.conn.sets}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.sched.Start(runCtx) // catches up on missed slots first
		ready.Store(true)
	}()
	go func() {
		defer wg.Done()
		rl.watch(runCtx)
	}()
	if s.worker != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.worker.Run(runCtx); err != nil {
				s.logger.Error("delivery worker stopped", "error", s.conn.w.Redact(err.Error()))
			}
		}()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			rl.onSIGHUP(runCtx)
			continue
		case <-ctx.Done():
		}
		break
	}
	ready.Store(false)
	cancelRuns()
	s.stop(&wg)
	return exitOK
}

// stop waits, up to serve.shutdown_timeout, for runs to end and stops
// the HTTP server.
func (s *service) stop(wg *sync.WaitGroup) {
	shutdown := s.settings.shutdown
	s.logger.Info("shutting down: cancelling any run in progress", "timeout", shutdown.String())
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdown)
	defer cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-stopCtx.Done():
	}
	if err := s.sched.Stop(stopCtx); err != nil {
		s.logger.Error("a run did not stop in time; exiting anyway (the database rolls it back)", "error", err.Error())
	}
	_ = s.srv.Shutdown(stopCtx)
	s.logger.Info("stopped")
}
