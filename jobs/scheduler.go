package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tierflow/tierflow/rules"
)

// Observer is told what the scheduler does, for metrics.
type Observer interface {
	RunFinished(ruleset string, status Status, took time.Duration, rep *PlanReport)
	SlotsMissed(ruleset string, n int)
	NextRun(ruleset string, next time.Time)
}

// Scheduler runs rule sets on their schedules. Its decisions (which slot
// is due, which were missed, whose lease has lapsed) are made from an
// injected clock, so they are tested without waiting for real time;
// robfig/cron and a poll every Lease/3 only wake it up.
type Scheduler struct {
	// State is where runs write; Facts where they read each rule set's
	// facts (a FactsByRuleSet routes by rule set name).
	State StateStore
	Facts FactsSource
	Slots SlotStore
	// Now reads the clock; default time.Now.
	Now func() time.Time
	// Sleep waits d, or until ctx is done; default a timer. Waits for an
	// earlier run use it, so that tests with an injected clock can move
	// the clock instead of waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// StartingDeadline is how late a slot may still start: a slot that no
	// replica could run at its time (all were down, or the previous run
	// lasted) runs once it can if it is at most this late; later than
	// that it is recorded as missed. Default 1h.
	StartingDeadline time.Duration
	// Lease is how long a claim keeps its slot without being renewed.
	// The replica running a slot renews its claim every Lease/3; every
	// replica looks for lapsed claims (a replica was killed) as often,
	// and takes them over. Default 1m; keep it well under the starting
	// deadline.
	Lease time.Duration
	// Owner identifies this replica in slot claims.
	Owner    string
	Logger   *slog.Logger
	Observer Observer

	mu       sync.Mutex
	entries  map[string]*entry
	cron     *cron.Cron
	ctx      context.Context
	stop     chan struct{} // closed by Stop: the poll ends
	stopOnce sync.Once
	polls    sync.WaitGroup // the poll and the ticks it started
}

// job is what runs for a rule set: its compiled rules, schedule and run
// options, replaced as a whole on reload.
type job struct {
	rs    *rules.RuleSet
	sched Schedule
	opts  Options
}

type entry struct {
	job
	cronID cron.EntryID

	// One tick of a rule set at a time in this process: a tick that finds
	// one in progress asks it to look again when it is done, so that no
	// slot waits for a tick that never comes.
	mu          sync.Mutex
	busy        bool
	again       bool
	againOnSlot bool
}

// enter starts a tick unless one is in progress, which then looks again.
func (e *entry) enter(onSlot bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.busy {
		e.again, e.againOnSlot = true, e.againOnSlot || onSlot
		return false
	}
	e.busy = true
	return true
}

// leave ends a tick, unless another was asked for meanwhile: then again
// is true and the tick goes on, onSlot telling whether cron asked.
func (e *entry) leave() (again, onSlot bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.again {
		again, onSlot = true, e.againOnSlot
		e.again, e.againOnSlot = false, false
		return again, onSlot
	}
	e.busy = false
	return false, false
}

// abort ends a tick that panicked.
func (e *entry) abort() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.busy, e.again, e.againOnSlot = false, false, false
}

// maxCatchUp bounds how many slots one look at a rule set walks through.
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

func (s *Scheduler) lease() time.Duration {
	if s.Lease > 0 {
		return s.Lease
	}
	return time.Minute
}

// renewEvery is how often a claim is renewed and lapsed claims are
// looked for: a third of the lease.
func (s *Scheduler) renewEvery() time.Duration { return max(s.lease()/3, time.Millisecond) }

func (s *Scheduler) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
	e.job = job{rs: rs, sched: sched, opts: opts}
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
	if j, e := s.job(name); e != nil {
		return j.rs
	}
	return nil
}

// job returns what runs for name now, and its entry (nil: none).
func (s *Scheduler) job(name string) (job, *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[name]
	if e == nil {
		return job{}, nil
	}
	return e.job, e
}

func (s *Scheduler) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.entries))
	for name := range s.entries {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func (s *Scheduler) registerLocked(name string, e *entry) {
	if e.cronID != 0 {
		s.cron.Remove(e.cronID)
	}
	e.cronID = s.cron.Schedule(e.sched, cron.FuncJob(func() { s.Tick(s.ctx, name) }))
}

// Start catches up on missed slots, starts the cron runner and the poll
// that takes over lapsed claims. The runner is configured explicitly:
// times in UTC unless a schedule names a zone, and SkipIfStillRunning
// wrapping Recover. That order matters with robfig/cron v3.0.1:
// SkipIfStillRunning returns its token only when the job returns
// normally, so a panic that escaped to it would block the job forever;
// Recover inside it turns the panic into a log line and the job runs
// again at its next slot. (Tick recovers from a run's panic itself.)
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.stop = make(chan struct{})
	logger := cronLogger{s.log()}
	s.cron = cron.New(
		cron.WithLocation(time.UTC),
		cron.WithLogger(logger),
		cron.WithChain(jobChain(logger)...),
	)
	for name, e := range s.entries {
		s.registerLocked(name, e)
	}
	s.mu.Unlock()
	for _, name := range s.names() {
		s.Tick(ctx, name)
	}
	s.cron.Start()
	s.polls.Add(1)
	go s.poll(ctx)
}

// poll looks at every rule set every Lease/3, so that a claim whose
// replica died is taken over without waiting for the next slot.
func (s *Scheduler) poll(ctx context.Context) {
	defer s.polls.Done()
	t := time.NewTicker(s.renewEvery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-t.C:
		}
		for _, name := range s.names() {
			s.polls.Add(1)
			go func() {
				defer s.polls.Done()
				s.tick(ctx, name, false)
			}()
		}
	}
}

// Stop stops the runner and the poll and waits for a run in progress
// (cancel its context first to end it quickly) until ctx is done.
func (s *Scheduler) Stop(ctx context.Context) error {
	if s.cron == nil {
		return nil
	}
	s.stopOnce.Do(func() { close(s.stop) })
	done := make(chan struct{})
	go func() {
		<-s.cron.Stop().Done()
		s.polls.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Tick runs what is due for a rule set now (see planSlots): each slot
// since the last recorded one, and each claim whose lease lapsed, runs
// once in slot order if it is within the starting deadline, and is
// recorded as missed otherwise. A slot waits for a run of an earlier slot
// still in progress on another replica, and for the rule set's lock,
// within its deadline. Tick is what cron calls at each slot: when this
// replica ran nothing because another took the slot, it records a
// skipped run.
func (s *Scheduler) Tick(ctx context.Context, name string) { s.tick(ctx, name, true) }

func (s *Scheduler) tick(ctx context.Context, name string, onSlot bool) {
	_, e := s.job(name)
	if e == nil || ctx == nil {
		return
	}
	if !e.enter(onSlot) {
		s.log().Debug("the rule set's previous tick is still in progress; it will look again when it ends", "ruleset", name)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			e.abort()
			s.log().Error("scheduled run panicked; the rule set runs again at its next slot", "ruleset", name, "panic", fmt.Sprint(r))
		}
	}()
	var tried []time.Time
	for again := true; again; {
		tried = s.look(ctx, name, onSlot, tried)
		again, onSlot = e.leave()
	}
	if j, e := s.job(name); e != nil && s.Observer != nil {
		s.Observer.NextRun(name, j.sched.Next(s.now()))
	}
}

// look is one pass of a tick over a rule set; tried are the slots the
// tick tried to run so far, returned with those of this pass.
func (s *Scheduler) look(ctx context.Context, name string, onSlot bool, tried []time.Time) []time.Time {
	more, err := s.work(ctx, name)
	tried = append(tried, more...)
	if err != nil {
		if ctx.Err() == nil {
			s.log().Error("scheduled run failed", "ruleset", name, "error", err.Error())
		}
		return tried
	}
	if onSlot {
		s.recordLostRace(ctx, name, tried)
	}
	return tried
}

// work runs what is due for a rule set until nothing is, and returns the
// slots it tried to run. It stops at the first error of the slot store.
func (s *Scheduler) work(ctx context.Context, name string) ([]time.Time, error) {
	var tried []time.Time
	var waiting time.Time // the slot logged as waiting
	wait := newBackoff(s.lease())
	for ctx.Err() == nil {
		j, e := s.job(name)
		if e == nil {
			return tried, nil
		}
		now := s.now()
		last, found, err := s.Slots.LastSlot(ctx, name)
		if err != nil {
			return tried, err
		}
		open, err := s.Slots.OpenSlots(ctx, name)
		if err != nil {
			return tried, err
		}
		p := planSlots(j.sched, now, s.deadline(), last, found, open)
		if len(p.missed) > 0 {
			if err := s.markMissed(ctx, name, p.missed, now); err != nil {
				return tried, err
			}
		}
		if p.next.IsZero() {
			return tried, nil
		}
		if !p.waitFor.IsZero() {
			if !waiting.Equal(p.next) {
				waiting = p.next
				s.log().Info("a run of an earlier slot is in progress on another replica; this slot waits for it",
					"ruleset", name, "slot", p.next, "starting_deadline", s.deadline().String())
			}
			d := wait.next()
			if until := p.waitFor.Sub(now); until > 0 && until < d {
				d = until
			}
			_ = s.sleep(ctx, d)
			continue
		}
		wait.reset()
		if slices.ContainsFunc(tried, p.next.Equal) {
			// Tried once in this look and still due: the store let the
			// claim go neither way. The next tick looks again.
			return tried, fmt.Errorf("slot %s is still due after this replica tried it", p.next.Format(time.RFC3339))
		}
		tried = append(tried, p.next)
		if _, _, err := s.runSlot(ctx, name, p.next); err != nil {
			return tried, err
		}
	}
	return tried, ctx.Err()
}

// markMissed records slots as missed, logging at ERROR level and
// counting those that this replica recorded.
func (s *Scheduler) markMissed(ctx context.Context, name string, missed []time.Time, now time.Time) error {
	n, err := s.Slots.MarkMissed(ctx, name, missed, now)
	if err != nil || n == 0 {
		return err // n == 0: another replica recorded them
	}
	s.log().Error("scheduled slots were missed and will not run; run `tierflow apply --as-of <slot>` by hand if they matter",
		"ruleset", name, "missed", n, "first", missed[0], "last", missed[len(missed)-1],
		"starting_deadline", s.deadline().String())
	if s.Observer != nil {
		s.Observer.SlotsMissed(name, n)
	}
	return nil
}

// recordLostRace records a skipped run when the slot cron woke this
// replica for was taken by another one before this tick could try it, so
// that losing the race is seen rather than passing unseen.
func (s *Scheduler) recordLostRace(ctx context.Context, name string, tried []time.Time) {
	j, e := s.job(name)
	if e == nil || ctx.Err() != nil {
		return
	}
	cur, ok := SlotAtOrBefore(j.sched, s.now(), min(raceWindow, s.deadline()))
	if !ok || slices.ContainsFunc(tried, cur.Equal) {
		return
	}
	if last, found, err := s.Slots.LastSlot(ctx, name); err != nil || !found || last.Before(cur) {
		return
	}
	_, _ = s.RunSlot(ctx, name, cur)
}

// backoff is the growing wait between two looks at something that is
// not ready: from minWait, doubling, up to max.
type backoff struct{ d, max time.Duration }

// minWait is the first wait of a backoff.
const minWait = 250 * time.Millisecond

func newBackoff(lease time.Duration) backoff { return backoff{max: max(lease/3, minWait)} }

func (b *backoff) next() time.Duration {
	b.d = min(max(2*b.d, minWait), b.max)
	return b.d
}

func (b *backoff) reset() { b.d = 0 }

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
