package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

const deliverUsage = `
Usage: tierflow deliver [flags]

Delivers queued actions to the destinations their rule names with
deliver_to (declared under destinations: in tierflow.yaml: webhooks
signed per Standard Webhooks, Zoho CRM, Fxiaoke, or JSON Lines files),
and records every attempt. It runs until SIGINT or SIGTERM, or for one round with --once.
Several workers, on one machine or many, may share one queue: a claim
is a lease (delivery.lease, default 5m), so no action is delivered by two
at once, and one whose worker died is delivered again once its lease
has run out.

Delivery is at-least-once: receivers de-duplicate on webhook-id (the
same on every attempt of an action). A failed attempt is retried with
exponential backoff (delivery.base_backoff, max_backoff), honouring
Retry-After; after delivery.max_attempts attempts or delivery.max_age
the action is dead (tierflow actions list --status dead; tierflow
actions retry ID). tierflow serve runs the same worker when destinations
are configured. Logs are JSON lines when stderr is not a terminal.
See docs/delivery.md.

Examples:
  tierflow deliver
  tierflow deliver --once                        one round, then a summary
  tierflow deliver --destination crm_hook        only this destination's actions
  tierflow deliver --config /etc/tierflow/tierflow.yaml
`

func runDeliver(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("deliver", deliverUsage)
	configPath := fs.String("config", "", "config `file` (default ./tierflow.yaml); secrets come from the environment or files it names, never from a flag")
	once := fs.Bool("once", false, "deliver one round of due actions, print how many were delivered, retried and dead, and exit")
	var only stringList
	fs.Var(&only, "destination", "only this destination's actions (repeat for several; default: every configured destination)")
	if _, code, ok := a.parse(fs, args); !ok {
		return code
	}
	if err := defaultConfigExists(*configPath); err != nil {
		return a.errorf("deliver: %v", err)
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return a.errorf("deliver: %v", err)
	}
	if len(cfg.Destinations) == 0 {
		return a.errorf("deliver: the config declares no destinations: add one under destinations:, e.g. `destinations: {crm_hook: {type: webhook, url: https://example.com/hook, secret_env: HOOK_SECRET}}` (docs/delivery.md)")
	}
	if errs := cfg.checkDeliverTo(); len(errs) > 0 {
		printDiagnostics(a.stderr, errs)
		return a.errorf("deliver: rule files deliver actions to destinations the config does not declare; fix them first")
	}
	be, err := cfg.backend(a.getenv)
	if err != nil {
		return a.errorf("deliver: %v", err)
	}
	store, err := be.openState(ctx, cfg.Database.Schema)
	if err != nil {
		return a.errorf("deliver: %v", err)
	}
	defer store.Close()
	logger := a.logger()
	tally := &deliveryTally{}
	w, closeDests, err := cfg.deliveryWorker(a.getenv, a.stdout, store, only, logger, tally)
	if err != nil {
		return a.errorf("deliver: %s", store.Redact(err.Error()))
	}
	defer closeDests() //nolint:errcheck
	if *once {
		n, err := w.RunOnce(ctx)
		fmt.Fprintf(a.stdout, "claimed %d: %s\n", n, tally)
		if err != nil {
			return a.errorf("deliver: %s", store.Redact(err.Error()))
		}
		if tally.errors() > 0 {
			return a.errorf("deliver: %d attempts could not be recorded; they are retried after their lease", tally.errors())
		}
		return exitOK
	}
	logger.Info("delivering", "destinations", strings.Join(names(w.Destinations), ","), "concurrency", w.Concurrency, "owner", w.Owner)
	if err := w.Run(ctx); err != nil {
		return a.errorf("deliver: %v", err)
	}
	logger.Info("stopped", "summary", tally.String())
	return exitOK
}

// deliveryWorker makes the worker that delivers the queue's actions to
// the configured destinations (only those named in only, when it names
// any), told to observers.
func (c *config) deliveryWorker(getenv func(string) string, stdout io.Writer, q jobs.Queue, only []string, logger *slog.Logger, observers ...jobs.WorkerObserver) (w *jobs.Worker, closeAll func() error, err error) {
	for _, name := range only {
		if _, ok := c.Destinations[name]; !ok {
			return nil, nil, fmt.Errorf("--destination %q: no such destination (%s)", name,
				nearOr(name, c.destinationNames(), "the config declares "+strings.Join(c.destinationNames(), ", ")))
		}
	}
	w = &jobs.Worker{
		Queue:        q,
		Destinations: map[string]jobs.Destination{},
		Limits:       map[string]jobs.DestinationLimits{},
		Concurrency:  c.Delivery.Concurrency,
		Lease:        c.Delivery.lease(),
		Timeout:      c.Delivery.timeout(),
		Retry:        c.Delivery.retryPolicy(),
		Owner:        workerID(),
		Logger:       logger,
		Observer:     observerList(observers),
	}
	if w.Concurrency == 0 {
		w.Concurrency = 8
	}
	var closers []func() error
	closeAll = func() error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c())
		}
		return errors.Join(errs...)
	}
	for _, name := range c.destinationNames() {
		if len(only) > 0 && !slices.Contains(only, name) {
			continue
		}
		dc := c.Destinations[name]
		d, closer, err := c.openDestination(getenv, stdout, name, dc)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, closer)
		w.Destinations[name] = d
		if dc.Concurrency > 0 || dc.Rate > 0 {
			w.Limits[name] = jobs.DestinationLimits{Concurrency: dc.Concurrency, Rate: dc.Rate}
		}
	}
	return w, closeAll, nil
}

func names(m map[string]jobs.Destination) []string {
	return slices.Sorted(maps.Keys(m))
}

// workerID names this worker in leases and attempt records:
// hostname-pid-random, so that two workers on one host differ.
func workerID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// stringList is a flag that may be repeated.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	*s = append(*s, v)
	return nil
}

// observerList tells every observer.
type observerList []jobs.WorkerObserver

func (l observerList) OnAttempt(dest string, d *jobs.Delivery, out jobs.DeliveryOutcome, took time.Duration, final string) {
	for _, o := range l {
		o.OnAttempt(dest, d, out, took, final)
	}
}

func (l observerList) OnQueueError(op, dest string, err error) {
	for _, o := range l {
		o.OnQueueError(op, dest, err)
	}
}

// deliveryTally counts the outcomes of attempts, for deliver --once.
type deliveryTally struct {
	mu                                   sync.Mutex
	delivered, retried, dead, lost, errs int
}

func (t *deliveryTally) OnAttempt(_ string, _ *jobs.Delivery, _ jobs.DeliveryOutcome, _ time.Duration, final string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch final {
	case jobs.ActionDone:
		t.delivered++
	case jobs.ActionPending:
		t.retried++
	case jobs.ActionDead:
		t.dead++
	case jobs.LeaseLost:
		t.lost++
	default:
		t.errs++
	}
}

func (t *deliveryTally) OnQueueError(string, string, error) {}

func (t *deliveryTally) errors() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.errs
}

func (t *deliveryTally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := fmt.Sprintf("%d delivered, %d to retry, %d dead", t.delivered, t.retried, t.dead)
	if t.lost > 0 {
		s += fmt.Sprintf(", %d lost their lease", t.lost)
	}
	if t.errs > 0 {
		s += fmt.Sprintf(", %d not recorded", t.errs)
	}
	return s
}
