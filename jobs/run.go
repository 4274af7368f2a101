package jobs

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/factdigest"
	"github.com/tierflow/tierflow/rules"
)

// Options configure one run.
type Options struct {
	// AsOf is the time the run evaluates at. It is truncated to whole
	// microseconds, the precision stores keep.
	AsOf time.Time
	// Workers evaluating in parallel; 0 means one per CPU.
	Workers int
	// BatchSize is the number of customers read and written at a time;
	// 0 means 1000.
	BatchSize int
	Guard     Guard
	// InitialActions queues actions on a rule set's first run. Off by
	// default: on the first run every customer "enters" a segment, and
	// transition actions would fire for the whole customer base.
	InitialActions bool
	// Progress, when set, is called after each batch with the number of
	// customers evaluated so far and the total (-1 if unknown). It is
	// called from several goroutines.
	Progress func(done, total int64)
	// Now reads the clock for run start and finish times only; evaluation
	// uses AsOf. Defaults to time.Now.
	Now func() time.Time
	// Slot is the scheduled time that triggered the run, if any.
	Slot time.Time
	// Sync maps a segmentation's name to the destinations that get every
	// move in it: an apply queues a "sync.<segmentation>" action per move
	// and destination (not on a first run, unless InitialActions).
	Sync map[string][]string
	// Incremental leaves out of the evaluation the customers whose marks
	// say nothing can have changed for them (IncrementalReport.Asleep):
	// they keep their state, and count in the report as they are. It
	// takes effect only where the marks hold (IncrementalReport.Full is
	// empty) and the rule set has no coverage targets, whose standing the
	// report counts for every customer; otherwise the run evaluates
	// everyone. Where the snapshot can tell (ChangedReader), the others
	// are not even read.
	Incremental bool
	// EngineOnly makes an incremental run read every customer the marks
	// select, rather than let the database run the rules on them and
	// leave unread those they leave as they are
	// (IncrementalReport.InDatabase): the outcome is the same, the reading
	// is not.
	EngineOnly bool
	// FullSchedule, when set, makes a run full (every customer read and
	// evaluated, the marks checked for drift) when a slot of it came
	// since the last successful run: at or before the run's as-of and
	// after that run's. A weekly schedule bounds how long a wrong
	// wake-up time could go unseen under Incremental.
	FullSchedule Schedule
	// Approved, when set, is shown an apply's report before anything is
	// written: an error refuses the apply as a guard does (status
	// blocked, nothing written), with the error as the reason. apply
	// FILE uses it to apply only what a saved plan showed.
	Approved func(*PlanReport) error
	// Shard, when set, makes the apply one shard of a sharded run: it
	// evaluates and writes the customers whose key hashes to the shard
	// (ShardOf), under a parent run that the last shard to commit
	// completes. The state store must implement ShardStore.
	Shard Shard
}

func (o *Options) normalize() {
	o.AsOf = o.AsOf.UTC().Truncate(time.Microsecond)
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Outcome is what a plan or apply found and did.
type Outcome struct {
	Report *PlanReport
	// RunID is the apply's run record, 0 for a plan.
	RunID int64
	// MaintainErr is why the state store could not bring what it derives
	// from the state up to date after the apply (Maintainer): the apply
	// itself succeeded, and the next one tries again.
	MaintainErr error
}

// ErrBlocked wraps the refusal of a guard; the Outcome's report says why.
var ErrBlocked = errors.New("apply blocked by a guard")

// ErrTooManyRuleErrors is returned when more customers failed a rule than
// Guard.MaxErrorRate allows.
var ErrTooManyRuleErrors = errors.New("too many customers failed a rule")

// Plan evaluates rs against the current facts of facts and the state
// kept in state, and reports what an apply would change. It writes
// nothing.
func Plan(ctx context.Context, state StateStore, facts FactsSource, rs *rules.RuleSet, opts Options) (*Outcome, error) {
	opts.normalize()
	snap, err := OpenSnapshot(ctx, state, facts, rs, At(opts.AsOf))
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	prev, err := previousRun(ctx, state, rs)
	if err != nil {
		return nil, err
	}
	plan, incr, err := evaluate(ctx, snap, rs, opts, prev, nil)
	if err != nil {
		return nil, err
	}
	rep := NewPlanReport(plan, "plan", opts.AsOf, snap.Initial())
	rep.Incremental = incr
	rep.Quality = qualityOf(snap, opts.AsOf, prev)
	rep.Derived = derivedReportOf(snap)
	rep.Guard = opts.Guard.check(plan, snap.Initial(), prev, rep.Quality)
	return &Outcome{Report: rep}, nil
}

// Apply evaluates rs like Plan and, unless a guard refuses, writes the
// changed assignments, their history and the queued actions to state, and
// records the run, all in one transaction. Facts may come from any
// source; state is written to one store.
func Apply(ctx context.Context, state StateStore, facts FactsSource, rs *rules.RuleSet, opts Options) (*Outcome, error) {
	opts.normalize()
	rec, _ := state.(RunRecorder)
	shards, _ := state.(ShardStore)
	if !opts.Shard.IsZero() {
		if shards == nil || rec == nil {
			return nil, ErrNoShards
		}
		if rs.HasDerived() {
			return nil, errShardDerived(rs)
		}
	}
	info := RunInfo{RuleSet: rs.Name, RulesHash: rs.Hash, AsOf: opts.AsOf, Slot: opts.Slot, Started: opts.Now(), Shard: opts.Shard}
	if rec != nil {
		id, err := rec.StartRun(ctx, info, "apply")
		if err != nil {
			return nil, err
		}
		info.ID = id
	}
	out := &Outcome{RunID: info.ID}
	finish := func(s RunSummary) {
		if rec != nil && info.ID != 0 {
			s.Finished = opts.Now()
			if s.Status == StatusFailed && ctx.Err() != nil {
				s.Status = StatusCancelled // stopped (shutdown), not broken
			}
			// The run's context may be cancelled; record the outcome anyway.
			_ = rec.FinishRun(context.WithoutCancel(ctx), info.ID, s)
		}
	}

	tx, err := state.BeginApply(ctx, rs, info)
	if err != nil {
		status := StatusFailed
		if errors.Is(err, ErrLocked) {
			status = StatusSkipped
		}
		finish(RunSummary{Status: status, Error: err.Error()})
		return out, err
	}
	defer tx.Rollback()

	// Read under the lock: no other apply can succeed before this one ends.
	prev, err := previousRunOf(ctx, state, rs, opts.Shard)
	if err != nil {
		finish(RunSummary{Status: StatusFailed, Error: err.Error()})
		return out, err
	}
	snapOpts := []SnapshotOption{At(opts.AsOf)}
	if !opts.Shard.IsZero() {
		_, initial, err := shards.ShardParent(ctx, info.ID)
		if err != nil {
			finish(RunSummary{Status: StatusFailed, Error: err.Error()})
			return out, err
		}
		snapOpts = append(snapOpts, Sharded(opts.Shard, initial))
	}
	snap, err := OpenSnapshot(ctx, state, facts, rs, snapOpts...)
	if err != nil {
		finish(RunSummary{Status: StatusFailed, Error: err.Error()})
		return out, err
	}
	defer snap.Close()
	plan, incr, err := evaluate(ctx, snap, rs, opts, prev, tx.Stage)
	if err != nil {
		finish(RunSummary{Status: StatusFailed, Error: err.Error()})
		return out, err
	}
	rep := NewPlanReport(plan, "apply", opts.AsOf, snap.Initial())
	rep.Incremental = incr
	// The population and row counts compare with a run of the same
	// customers only: of the same shard, or unsharded for an unsharded run.
	same := prev.sameShard(opts.Shard)
	rep.Quality = qualityOf(snap, opts.AsOf, same)
	rep.Derived = derivedReportOf(snap)
	rep.Guard = opts.Guard.check(plan, snap.Initial(), same, rep.Quality)
	rep.Shard = opts.Shard.String()
	out.Report = rep
	// The run's population is the customers the sources returned: the
	// next run's guard compares its own with it.
	summary := RunSummary{Customers: plan.Customers - rep.Quality.left(), Changed: plan.Changed, Actions: plan.TotalActions(), Errors: plan.Errors, Detail: rep}
	if rep.Guard.ErrorRateExceeded {
		summary.Status, summary.Error = StatusFailed, rep.Guard.Reasons[len(rep.Guard.Reasons)-1]
		rep.Status = string(StatusFailed)
		finish(summary)
		return out, fmt.Errorf("%w: %s", ErrTooManyRuleErrors, summary.Error)
	}
	if opts.Approved != nil {
		if err := opts.Approved(rep); err != nil {
			rep.Guard.Blocked = true
			rep.Guard.Reasons = append(rep.Guard.Reasons, err.Error())
		}
	}
	if rep.Guard.Blocked {
		summary.Status, summary.Error = StatusBlocked, joinReasons(rep.Guard.Reasons)
		rep.Status = string(StatusBlocked)
		finish(summary)
		return out, fmt.Errorf("%w: %s", ErrBlocked, summary.Error)
	}
	summary.Status, summary.Finished, summary.FinishedAt = StatusSucceeded, opts.Now(), opts.Now
	if !opts.Shard.IsZero() {
		summary.CheckTotals = opts.Guard.totals
	}
	if err := tx.Commit(ctx, summary); err != nil {
		finish(RunSummary{Status: StatusFailed, Error: err.Error(), Detail: rep})
		return out, err
	}
	rep.Status = string(StatusSucceeded)
	if m, ok := state.(Maintainer); ok {
		out.MaintainErr = m.Maintain(ctx, rs)
	}
	return out, nil
}

// evaluate streams every customer of snap through the engine on
// opts.Workers goroutines, aggregating a plan; when stage is set, the
// customers whose state changes are passed to it from one goroutine.
func evaluate(ctx context.Context, snap Snapshot, rs *rules.RuleSet, opts Options, prev *PreviousRun,
	stage func(context.Context, []Evaluated) error) (*engine.Plan, *IncrementalReport, error) {
	total := int64(-1)
	if opts.Progress != nil {
		if n, err := snap.Count(ctx); err == nil {
			total = n
		}
	}
	e := engine.New(rs)
	initial := snap.Initial()
	full := shardFullReason(prev, opts.Shard)
	if full == "" {
		full = fullReason(rs, opts.AsOf, prev, initial, opts.FullSchedule)
	}
	skip := opts.Incremental && full == "" && !rs.HasCoverage()
	readsAll := ""
	if skip {
		var err error
		if readsAll, err = readChanged(ctx, snap, rs, opts.AsOf, prev, opts.EngineOnly, false); err != nil {
			return nil, nil, err
		}
	} else if opts.Incremental && !opts.EngineOnly && opts.Shard.IsZero() && !rs.HasCoverage() && decidesAll(rs, opts.AsOf, prev, initial, opts.FullSchedule) {
		// The rules changed: the marks do not hold, but the database can
		// still find who is unchanged. Where it cannot, everyone is read,
		// as in any full run, and nothing needs saying.
		if _, err := readChanged(ctx, snap, rs, opts.AsOf, prev, false, true); err != nil {
			return nil, nil, err
		}
	}
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	batches := stream(gctx, g, snap, opts)
	staged := make(chan []Evaluated, opts.Workers)
	plans := make([]*engine.Plan, opts.Workers)
	evaluators := make([]*evaluator, opts.Workers)
	var workers sync.WaitGroup
	for i := range plans {
		w := &evaluator{e: e, asOf: opts.AsOf, noActions: initial && !opts.InitialActions, keep: stage != nil, plan: engine.NewPlan(rs),
			full: full != "", skip: skip}
		if !w.noActions {
			w.sync = opts.Sync // a first run syncs no moves, as it queues no actions
		}
		plans[i], evaluators[i] = w.plan, w
		workers.Add(1)
		g.Go(func() error {
			defer workers.Done()
			for b := range batches {
				changed, err := w.batch(gctx, b)
				if err != nil {
					return err
				}
				if n := done.Add(int64(len(b))); opts.Progress != nil {
					opts.Progress(n, total)
				}
				if len(changed) == 0 {
					continue
				}
				select {
				case staged <- changed:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() {
		workers.Wait()
		close(staged)
	}()
	g.Go(func() error {
		for b := range staged {
			if stage == nil {
				continue
			}
			err := gctx.Err()
			if err == nil {
				err = stage(gctx, b)
			}
			if err != nil {
				// Drain so workers blocked on send can see the cancellation.
				go func() {
					for range staged {
					}
				}()
				return err
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	plan := plans[0]
	for _, p := range plans[1:] {
		plan.Merge(p)
	}
	incr := &evaluators[0].incr
	for _, w := range evaluators[1:] {
		incr.merge(&w.incr)
	}
	if unread, q := unreadOf(snap); unread != nil {
		addUnread(plan, incr, unread, q)
		if opts.Progress != nil {
			opts.Progress(done.Load()+unread.Customers, total)
		}
	}
	slices.Sort(incr.DriftSamples)
	incr.Enabled, incr.Full, incr.ReadsAll = opts.Incremental, full, readsAll
	return plan, incr, nil
}

// checkEvery is how many customers a worker evaluates between two looks
// at the run's context: a cancelled run stops within moments, and the
// look costs nothing next to the evaluations.
const checkEvery = 32

// evaluator is one worker of evaluate: it evaluates batches into its own
// plan, reusing one result.
type evaluator struct {
	e    *engine.Engine
	asOf time.Time
	// noActions drops queued actions: a first run without InitialActions.
	noActions bool
	// keep collects the customers whose stored state changes, to stage.
	keep bool
	// sync is Options.Sync, or nil when the run queues no actions.
	sync    map[string][]string
	plan    *engine.Plan
	scratch engine.Result
	// digest digests the customers' facts.
	digest *factdigest.Hasher
	// incr counts what the customers' marks say (IncrementalReport);
	// with full, the marks do not hold for the run (fullReason).
	incr IncrementalReport
	full bool
	// skip leaves asleep customers unevaluated (Options.Incremental).
	skip bool
}

// batch evaluates b into the plan and returns the customers to stage,
// or ctx's error as soon as ctx is done.
func (w *evaluator) batch(ctx context.Context, b []engine.Customer) ([]Evaluated, error) {
	var changed []Evaluated
	for j := range b {
		if j%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		c := &b[j]
		digest := w.factsDigest(c)
		reason := w.classify(c, digest)
		if w.skip && reason == reasonAsleep {
			asleep(c, &w.scratch)
			w.plan.Add(c.Key, &w.scratch)
			w.incr.count(reason, c.Key, false)
			w.incr.Skipped++
			continue
		}
		w.e.EvaluateInto(w.asOf, c, &w.scratch)
		dropped := false
		if w.noActions {
			dropped = len(w.scratch.Actions) > 0 || len(w.scratch.Withheld) > 0
			w.scratch.Actions = w.scratch.Actions[:0]
			w.scratch.Withheld = w.scratch.Withheld[:0]
		}
		w.plan.Add(c.Key, &w.scratch)
		write := needsWrite(c, &w.scratch)
		w.incr.count(reason, c.Key, write || len(w.scratch.Errors) > 0)
		if c.Settled {
			w.incr.checked(c.Key, write || dropped || len(w.scratch.Errors) > 0)
		}
		if !w.keep {
			continue
		}
		if mark := w.mark(c, &w.scratch, dropped, digest); !mark.Equal(c.State.Mark) || write {
			changed = append(changed, Evaluated{Customer: c, Result: clone(&w.scratch), Sync: w.sync, Mark: mark})
		}
	}
	return changed, nil
}

// asleep sets res to the outcome of evaluating c when its marks say
// nothing can have changed: every segment as the state has it, no action,
// no error, no coverage (a rule set with coverage targets is never
// skipped), and the same wake-up time.
func asleep(c *engine.Customer, res *engine.Result) {
	n := len(c.State.Segments)
	if cap(res.Segments) >= n {
		res.Segments = res.Segments[:n]
	} else {
		res.Segments = make([]engine.Decision, n)
	}
	for i, a := range c.State.Segments {
		res.Segments[i] = engine.Decision{Assignment: a, Previous: a.Segment}
	}
	res.Actions, res.Withheld, res.Coverage, res.Errors = res.Actions[:0], res.Withheld[:0], res.Coverage[:0], res.Errors[:0]
	res.Left, res.Wake = false, c.State.Mark.Wake
}

// factsDigest is the digest of c's facts, 0 for none: a customer who
// left the source, or whose facts have errors (their nulls hide the
// values) or a value the digest cannot encode.
func (w *evaluator) factsDigest(c *engine.Customer) uint64 {
	if c.Absent || len(c.FactErrors) > 0 {
		return 0
	}
	if c.FactsDigest != 0 {
		return c.FactsDigest // the snapshot's, as its store compares it
	}
	if w.digest == nil {
		w.digest = factdigest.New()
	}
	d, err := w.digest.Sum(c.Facts)
	if err != nil {
		return 0
	}
	return d
}

// mark is what the store keeps of c's evaluation res (engine.Mark): its
// wake-up time and the digest of its facts. Without a digest (fact
// errors, an unencodable value), and where the run dropped actions that
// fired (a first run's, which may fire on the next), the customer wakes
// on every run; one who left the source has no mark.
func (w *evaluator) mark(c *engine.Customer, res *engine.Result, dropped bool, digest uint64) engine.Mark {
	switch {
	case c.Absent:
		return engine.Mark{}
	case digest == 0 || dropped:
		return engine.Mark{Wake: engine.EveryRun}
	}
	return engine.Mark{Wake: engine.StoredWake(res.Wake, w.asOf), Digest: digest}
}

// stream reads snap in batches on a goroutine of g. The channel closes
// when the snapshot is read, or early when ctx (g's context) is cancelled.
func stream(ctx context.Context, g *errgroup.Group, snap Snapshot, opts Options) <-chan []engine.Customer {
	batches := make(chan []engine.Customer, opts.Workers)
	g.Go(func() error {
		defer close(batches)
		return snap.Stream(ctx, opts.BatchSize, func(b []engine.Customer) error {
			// select picks at random when both are ready: once ctx is
			// done, hand out no more.
			if err := ctx.Err(); err != nil {
				return err
			}
			select {
			case batches <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
	return batches
}

// needsWrite reports whether a customer's stored state must change: a
// segment, its since or pending-since date, or an action to queue.
func needsWrite(c *engine.Customer, res *engine.Result) bool {
	if len(res.Actions) > 0 || len(res.Withheld) > 0 {
		return true
	}
	for i := range res.Segments {
		d := &res.Segments[i]
		if d.Segment == "" {
			if d.Reason == engine.ReasonLeft && d.Previous != "" {
				return true // leaves the segmentation: its assignment goes
			}
			continue
		}
		var prev engine.Assignment
		if i < len(c.State.Segments) {
			prev = c.State.Segments[i]
		}
		if d.Segment != prev.Segment || !d.Since.Equal(prev.Since) || !d.PendingSince.Equal(prev.PendingSince) {
			return true
		}
	}
	return false
}

func clone(r *engine.Result) *engine.Result {
	return &engine.Result{
		Segments: append([]engine.Decision(nil), r.Segments...),
		Actions:  append([]engine.QueuedAction(nil), r.Actions...),
		Withheld: append([]engine.WithheldAction(nil), r.Withheld...),
		Coverage: append([]engine.CoverageState(nil), r.Coverage...),
		Errors:   append([]engine.RuleError(nil), r.Errors...),
		Left:     r.Left,
		Wake:     r.Wake,
	}
}

// qualityOf reports what the pass over snap saw, once it is streamed:
// nil for a snapshot OpenSnapshot did not make.
func qualityOf(snap Snapshot, asOf time.Time, prev *PreviousRun) *QualityReport {
	s, ok := unwrapSnapshot(snap).(*snapshot)
	if !ok {
		return nil
	}
	return s.q.report(s.sourceStats(), asOf, prev, s.modified())
}
