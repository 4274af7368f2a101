package storetest

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// clock is a clock that tests move by hand. Its Sleep moves it instead
// of waiting, so that a scheduler waiting for a deadline gets there at
// once.
type clock struct {
	mu  sync.Mutex
	now time.Time
	// step is how far each Sleep moves the clock, whatever it was asked
	// to wait; zero means as far as asked.
	step time.Duration
}

func newClock(now time.Time) *clock { return &clock{now: now} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	if c.step > 0 {
		d = c.step
	}
	c.now = c.now.Add(d)
	c.mu.Unlock()
	time.Sleep(time.Millisecond) // let the other side move
	return ctx.Err()
}

// gate is a facts source whose passes wait, once opened, until release:
// a run in progress, holding the rule set's lock, for as long as the
// test wants.
type gate struct {
	jobs.FactsSource
	opened   chan struct{} // closed when the first pass opens
	released chan struct{}
	once     sync.Once
	rel      sync.Once
}

func newGate(f jobs.FactsSource) *gate {
	return &gate{FactsSource: f, opened: make(chan struct{}), released: make(chan struct{})}
}

func (g *gate) OpenFacts(ctx context.Context, rs *rules.RuleSet) (jobs.FactsReader, error) {
	g.once.Do(func() { close(g.opened) })
	select {
	case <-g.released:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.FactsSource.OpenFacts(ctx, rs)
}

func (g *gate) release() { g.rel.Do(func() { close(g.released) }) }

// wait waits until a pass has opened the gate.
func (g *gate) wait(t *testing.T) {
	t.Helper()
	select {
	case <-g.opened:
	case <-time.After(30 * time.Second):
		t.Fatal("no run opened the facts")
	}
}

// cancelOnOpen is a facts source that cancels the run's context as the
// run opens it: SIGTERM arriving mid-run.
type cancelOnOpen struct {
	jobs.FactsSource
	cancel context.CancelFunc
}

func (c cancelOnOpen) OpenFacts(ctx context.Context, rs *rules.RuleSet) (jobs.FactsReader, error) {
	c.cancel()
	return c.FactsSource.OpenFacts(ctx, rs)
}

// observer records what a scheduler reports.
type observer struct {
	mu     sync.Mutex
	missed int
	runs   []jobs.Status
}

func (o *observer) RunFinished(_ string, status jobs.Status, _ time.Duration, _ *jobs.PlanReport) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.runs = append(o.runs, status)
}

func (o *observer) SlotsMissed(_ string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.missed += n
}

func (o *observer) NextRun(string, time.Time) {}

// syncBuffer is a log a scheduler writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// leaseScheduler is a scheduler of rs on e's store for the lease cases:
// its clock is c, facts come from facts (e's when nil), and its log and
// observer are returned.
func leaseScheduler(e *stateEnv, s StateStore, facts jobs.FactsSource, rs *rules.RuleSet, owner string, c *clock, deadline time.Duration) (*jobs.Scheduler, *syncBuffer, *observer) {
	e.t.Helper()
	if facts == nil {
		facts = e.f
	}
	log, obs := &syncBuffer{}, &observer{}
	sch := newStateScheduler(e.t, s, facts, rs, owner, time.Time{}, deadline)
	sch.Now, sch.Sleep = c.Now, c.Sleep
	sch.Logger = slog.New(slog.NewTextHandler(log, nil))
	sch.Observer = obs
	return sch, log, obs
}

// everyMinute is the retail example on a schedule of every minute.
func everyMinute(t testing.TB) *rules.RuleSet {
	rs := *RetailRuleSet(t)
	rs.Schedule = &rules.Schedule{Cron: "* * * * *", Timezone: "UTC"}
	return &rs
}

// slotRuns counts the runs of each slot of the rule set by status.
func (e *stateEnv) slotRuns(ruleset string) map[time.Time]map[string]int {
	e.t.Helper()
	out := map[time.Time]map[string]int{}
	for _, r := range e.runs(ruleset) {
		if r.Slot == nil {
			continue
		}
		k := r.Slot.UTC()
		if out[k] == nil {
			out[k] = map[string]int{}
		}
		out[k][r.Status]++
	}
	return out
}

// background runs fn on a goroutine; the returned wait waits for it.
func background(fn func()) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	return func() { <-done }
}
