package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tierflow/tierflow/rules"
)

// SlotStore records scheduled slots (a rule set and a planned time) so
// that each slot runs at most once across every replica of serve, and a
// slot missed while no replica was up is recorded, not lost.
type SlotStore interface {
	// ClaimSlot records the slot as taken by owner; it returns false when
	// another replica took it first.
	ClaimSlot(ctx context.Context, ruleset string, slot time.Time, owner string) (bool, error)
	// FinishSlot records the outcome of a claimed slot.
	FinishSlot(ctx context.Context, ruleset string, slot time.Time, status Status, runID int64) error
	// ReleaseSlot forgets a claim whose run was cancelled by shutdown, so
	// that the next start can run it if its deadline allows.
	ReleaseSlot(ctx context.Context, ruleset string, slot time.Time) error
	// MarkMissed records slots that were not run and will not be.
	MarkMissed(ctx context.Context, ruleset string, slots []time.Time) error
	// LastSlot returns the latest recorded slot of the rule set.
	LastSlot(ctx context.Context, ruleset string) (time.Time, bool, error)
}

// Observer is told what the scheduler does, for metrics.
type Observer interface {
	RunFinished(ruleset string, status Status, took time.Duration, rep *PlanReport)
	SlotsMissed(ruleset string, n int)
	NextRun(ruleset string, next time.Time)
}

// Scheduler runs rule sets on their schedules. Its decisions (which slot
// is due, which were missed) are made from an injected clock, so they are
// tested without waiting for real time; robfig/cron only wakes it up.
type Scheduler struct {
	// State is where runs write; Facts where they read each rule set's
	// facts (a FactsByRuleSet routes by rule set name).
	State StateStore
	Facts FactsSource
	Slots SlotStore
	// Now reads the clock; default time.Now.
	Now func() time.Time
	// StartingDeadline is how late a slot may still start: a slot missed
	// while the service was down runs once on start if it is at most this
	// old; older missed slots are recorded as missed. Default 1h.
	StartingDeadline time.Duration
	// Owner identifies this replica in slot claims.
	Owner    string
	Logger   *slog.Logger
	Observer Observer

	mu      sync.Mutex
	entries map[string]*entry
	cron    *cron.Cron
	ctx     context.Context
}

type entry struct {
	rs      *rules.RuleSet
	sched   Schedule
	opts    Options
	cronID  cron.EntryID
	running sync.Mutex // one run of a rule set at a time in this process
}

// maxCatchUp bounds how many missed slots one catch-up walks through.
const maxCatchUp = 10000

// raceWindow is how soon after a slot a tick that finds it already
// claimed records that it lost the slot to another replica.
const raceWindow = 5 * time.Minute

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scheduler) deadline() time.Duration {
	if s.StartingDeadline > 0 {
		return s.StartingDeadline
	}
	return time.Hour
}

func (s *Scheduler) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Set adds or replaces a rule set (on start and on every reload). Its
// options are used for every run; AsOf is set to each slot's time.
func (s *Scheduler) Set(rs *rules.RuleSet, opts Options) error {
	if rs.Schedule == nil {
		return fmt.Errorf("rule set %s has no schedule", rs.Name)
	}
	sched, err := ParseSchedule(rs.Schedule.Cron, rs.Schedule.Timezone)
	if err != nil {
		return fmt.Errorf("rule set %s: schedule: %w", rs.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries == nil {
		s.entries = map[string]*entry{}
	}
	e, ok := s.entries[rs.Name]
	if !ok {
		e = &entry{}
		s.entries[rs.Name] = e
	}
	e.rs, e.sched, e.opts = rs, sched, opts
	if s.cron != nil {
		s.registerLocked(rs.Name, e)
	}
	if s.Observer != nil {
		s.Observer.NextRun(rs.Name, sched.Next(s.now()))
	}
	return nil
}

// RuleSet returns the rule set currently scheduled under name.
func (s *Scheduler) RuleSet(name string) *rules.RuleSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entries[name]; e != nil {
		return e.rs
	}
	return nil
}

func (s *Scheduler) registerLocked(name string, e *entry) {
	if e.cronID != 0 {
		s.cron.Remove(e.cronID)
	}
	e.cronID = s.cron.Schedule(e.sched, cron.FuncJob(func() { s.Tick(s.ctx, name) }))
}

// Start catches up on missed slots and starts the cron runner. The
// runner is configured explicitly: times in UTC unless a schedule names a
// zone, and SkipIfStillRunning wrapping Recover. That order matters with
// robfig/cron v3.0.1: SkipIfStillRunning returns its token only when the
// job returns normally, so a panic that escaped to it would block the job
// forever; Recover inside it turns the panic into a log line and the job
// runs again at its next slot.
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	logger := cronLogger{s.log()}
	s.cron = cron.New(
		cron.WithLocation(time.UTC),
		cron.WithLogger(logger),
		cron.WithChain(jobChain(logger)...),
	)
	names := make([]string, 0, len(s.entries))
	for name, e := range s.entries {
		s.registerLocked(name, e)
		names = append(names, name)
	}
	s.mu.Unlock()
	for _, name := range names {
		s.Tick(ctx, name)
	}
	s.cron.Start()
}

// Stop stops the runner and waits for a run in progress (cancel its
// context first to end it quickly) until ctx is done.
func (s *Scheduler) Stop(ctx context.Context) error {
	if s.cron == nil {
		return nil
	}
	select {
	case <-s.cron.Stop().Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Tick runs what is due for a rule set now: every slot since the last
// recorded one is either run (the latest, if within the starting
// deadline) or recorded as missed. With no recorded slot yet, only the
// latest slot within the deadline is considered: nothing is backfilled
// from before the rule set was first scheduled.
func (s *Scheduler) Tick(ctx context.Context, name string) {
	s.mu.Lock()
	e := s.entries[name]
	s.mu.Unlock()
	if e == nil || ctx == nil {
		return
	}
	if !e.running.TryLock() {
		s.log().Warn("previous run still in progress; this tick is skipped", "ruleset", name)
		return
	}
	defer e.running.Unlock()
	if err := s.tick(ctx, name, e); err != nil {
		s.log().Error("scheduled run failed", "ruleset", name, "error", err.Error())
	}
	if s.Observer != nil {
		s.Observer.NextRun(name, e.sched.Next(s.now()))
	}
}

func (s *Scheduler) tick(ctx context.Context, name string, e *entry) error {
	now := s.now()
	last, found, err := s.Slots.LastSlot(ctx, name)
	if err != nil {
		return err
	}
	var due []time.Time
	if !found {
		if slot, ok := SlotAtOrBefore(e.sched, now, s.deadline()); ok {
			due = append(due, slot)
		}
	} else {
		for t := e.sched.Next(last); !t.IsZero() && !t.After(now) && len(due) < maxCatchUp; t = e.sched.Next(t) {
			due = append(due, t)
		}
	}
	if len(due) == 0 {
		// Another replica may have claimed the current slot a moment ago:
		// try it anyway, so that losing the race is recorded as a skipped
		// run rather than passing unseen.
		if cur, ok := SlotAtOrBefore(e.sched, now, raceWindow); ok && found && cur.Equal(last) {
			_, _ = s.RunSlot(ctx, name, cur)
		}
		return nil
	}
	latest := due[len(due)-1]
	missed := due[:len(due)-1]
	if now.Sub(latest) > s.deadline() {
		missed = due
	}
	if len(missed) > 0 {
		if err := s.Slots.MarkMissed(ctx, name, missed); err != nil {
			return err
		}
		s.log().Error("scheduled slots were missed and will not run; run `tierflow apply` by hand if they matter",
			"ruleset", name, "missed", len(missed), "first", missed[0], "last", missed[len(missed)-1],
			"starting_deadline", s.deadline().String())
		if s.Observer != nil {
			s.Observer.SlotsMissed(name, len(missed))
		}
	}
	if now.Sub(latest) > s.deadline() {
		return nil
	}
	// RunSlot logs its own outcome.
	_, _ = s.RunSlot(ctx, name, latest)
	return nil
}

// RunSlot runs one slot of a rule set unless another replica claimed it
// first, with the slot's time as the as-of time.
func (s *Scheduler) RunSlot(ctx context.Context, name string, slot time.Time) (Status, error) {
	s.mu.Lock()
	e := s.entries[name]
	s.mu.Unlock()
	if e == nil {
		return StatusFailed, fmt.Errorf("no rule set %q is scheduled", name)
	}
	log := s.log().With("ruleset", name, "slot", slot)
	claimed, err := s.Slots.ClaimSlot(ctx, name, slot, s.Owner)
	if err != nil {
		return StatusFailed, err
	}
	if !claimed {
		log.Info("slot already taken by another replica; skipped")
		if rec, ok := s.State.(RunRecorder); ok {
			info := RunInfo{RuleSet: name, RulesHash: e.rs.Hash, AsOf: slot, Slot: slot, Started: s.now()}
			if id, err := rec.StartRun(ctx, info, "scheduled"); err == nil {
				_ = rec.FinishRun(ctx, id, RunSummary{Status: StatusSkipped, Finished: s.now(), Error: "slot already taken by another replica"})
			}
		}
		if s.Observer != nil {
			s.Observer.RunFinished(name, StatusSkipped, 0, nil)
		}
		return StatusSkipped, nil
	}
	opts := e.opts
	opts.AsOf = slot
	opts.Slot = slot
	if opts.Now == nil {
		opts.Now = s.now
	}
	start := s.now()
	log.Info("run starting", "rules_hash", e.rs.Hash)
	out, err := Apply(ctx, s.State, s.Facts, e.rs, opts)
	status := statusOf(err)
	took := s.now().Sub(start)
	var rep *PlanReport
	var runID int64
	if out != nil {
		rep, runID = out.Report, out.RunID
	}
	if ctx.Err() != nil {
		// Shutdown: nothing was applied; let the next start take the slot.
		_ = s.Slots.ReleaseSlot(context.WithoutCancel(ctx), name, slot)
		log.Warn("run cancelled by shutdown; nothing was applied", "run_id", runID)
	} else if ferr := s.Slots.FinishSlot(context.WithoutCancel(ctx), name, slot, status, runID); ferr != nil {
		log.Error("could not record the slot's outcome", "error", ferr.Error())
	}
	if s.Observer != nil {
		s.Observer.RunFinished(name, status, took, rep)
	}
	attrs := []any{"status", string(status), "run_id", runID, "took", took.Round(time.Millisecond).String()}
	if rep != nil {
		attrs = append(attrs, "customers", rep.Customers, "changed", rep.Changed, "actions", rep.ActionsTotal, "rule_errors", rep.Errors.Customers)
	}
	if err != nil {
		log.Error("run did not apply", append(attrs, "error", err.Error())...)
	} else {
		log.Info("run finished", attrs...)
	}
	return status, err
}

// statusOf maps an Apply error to the run status it recorded.
func statusOf(err error) Status {
	switch {
	case err == nil:
		return StatusSucceeded
	case errors.Is(err, ErrLocked):
		return StatusSkipped
	case errors.Is(err, ErrBlocked):
		return StatusBlocked
	}
	return StatusFailed
}

// jobChain wraps every cron job: SkipIfStillRunning outside, Recover
// inside. robfig/cron v3.0.1's SkipIfStillRunning puts its token back only
// when the job returns normally, so with Recover outside it a panic would
// keep the token and the job would be skipped forever.
func jobChain(logger cron.Logger) []cron.JobWrapper {
	return []cron.JobWrapper{cron.SkipIfStillRunning(logger), cron.Recover(logger)}
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Debug("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "error", err.Error())...)
}
