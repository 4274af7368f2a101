package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LeaseLost is the final state a WorkerObserver is told of when Finish
// found that the worker no longer held the action's lease (it ran out
// and another worker claimed the action): nothing was written.
const LeaseLost = "lease-lost"

// WorkerObserver is told what a Worker does, for metrics and logs. Its
// methods are called from several goroutines at once.
type WorkerObserver interface {
	// OnAttempt is told of every attempt once Finish returned: final is
	// the status the action was left in (ActionDone, ActionPending,
	// ActionDead), LeaseLost, or "" when Finish failed (OnQueueError is
	// told why).
	OnAttempt(dest string, d *Delivery, out DeliveryOutcome, took time.Duration, final string)
	// OnQueueError is told of a failed Claim or Finish (op "claim" or
	// "finish").
	OnQueueError(op, dest string, err error)
}

// DestinationLimits bound how hard a Worker drives one destination.
type DestinationLimits struct {
	// Concurrency caps its deliveries in flight at once; 0 means only
	// the worker's Concurrency caps them.
	Concurrency int
	// Rate is how many deliveries a second may start, in bursts of up to
	// Burst (default 1); 0 means no limit.
	Rate  float64
	Burst int
}

// Worker delivers due actions from a Queue to their destinations and
// records every attempt, until its context ends (Run) or for one round
// (RunOnce).
//
// Delivery is at-least-once. A claim is a lease of Lease that nothing
// renews: a delivery is given Timeout and its Finish Timeout again, so
// Lease must be longer than twice Timeout (the defaults, 5m and 30s,
// leave room). An action whose worker died, or whose Finish came too
// late, is claimed again once its lease has run out.
//
// Each round claims, destination by destination, only what can start at
// once: no more than the free room under Concurrency, the destination's
// cap and its rate limit's tokens, so that no claimed action waits while
// its lease runs. Priority orders the actions of one destination; the
// order destinations are claimed for turns round each round.
//
// A destination that implements BatchDestination with a MaxBatch above
// 1 is handed its actions in batches: the actions claimed for it in one
// round are split, in claim order, into batches of up to MaxBatch, and
// each batch is one DeliverBatch call. A batch counts as ONE delivery in
// flight against Concurrency and the destination's cap, and takes ONE
// token of its rate limit (the limits count calls to the destination,
// not actions). Its claim is up to MaxBatch times the calls that can
// start at once, and no more than what is left of BatchSize in the round
// (but always at least one full batch, so that a small BatchSize does not
// shrink the batches). The whole batch gets one Timeout; then each action
// is finished on its own with its own outcome (retry, dead letter,
// Observer.OnAttempt with the batch's duration), one after another. A
// DeliverBatch that panics or returns a wrong number of outcomes fails
// every action of the batch, retryably.
//
// Set the fields before the first Run or RunOnce and change none after;
// Run and RunOnce must not be called at the same time on one Worker.
type Worker struct {
	Queue Queue
	// Destinations are the destinations this worker delivers to, by the
	// name actions give; actions for others are left in the queue.
	Destinations map[string]Destination
	// Limits bound some destinations (by name); others are bound only by
	// Concurrency.
	Limits map[string]DestinationLimits
	// Concurrency caps the deliveries in flight at once; default 8.
	Concurrency int
	// BatchSize caps the actions one round claims; default Concurrency.
	// A BatchDestination's claim may go past it up to one full batch
	// (see above).
	BatchSize int
	// Lease is how long a claim is this worker's; default 5m.
	Lease time.Duration
	// Timeout bounds one attempt (Deliver's context) and one Finish;
	// default 30s.
	Timeout time.Duration
	// Grace is how long deliveries in flight may go on once Run's (or
	// RunOnce's) context has ended; then their contexts are cancelled,
	// and they are finished as pending, due at once. Default 10s;
	// negative means none.
	Grace time.Duration
	// PollInterval is how long Run waits after a round that found less
	// than it had room for; after a full one it claims again as soon as
	// it has room. Default 1s.
	PollInterval time.Duration
	// Retry decides the fate of failed attempts.
	Retry RetryPolicy
	// Owner identifies this worker in leases and attempt records
	// (hostname-pid-random); required.
	Owner string
	// Now reads the clock for due times, leases, rate limits and attempt
	// records; default time.Now.
	Now func() time.Time
	// Rand is the jitter's random source, numbers in [0,1); default
	// math/rand/v2's Float64. It is not called concurrently.
	Rand     func() float64
	Logger   *slog.Logger
	Observer WorkerObserver

	once  sync.Once
	state *workerState
	err   error
}

// Run delivers due actions until ctx ends, then lets deliveries in
// flight finish (see Grace) and returns nil. Claims left unfinished are
// retried after their lease. Errors from the queue are logged and told
// to the Observer; Run returns an error only for a bad configuration.
func (w *Worker) Run(ctx context.Context) error {
	st, err := w.setup()
	if err != nil {
		return err
	}
	ex := st.newExecutor(ctx)
	defer ex.cancel()
	for ctx.Err() == nil {
		claimed, more, wake, err := st.round(ctx, ex)
		if err != nil {
			st.log().Warn("jobs: worker claim failed", "error", err)
		}
		if claimed > 0 && more {
			continue
		}
		wait := st.poll
		if wake > 0 {
			wait = min(wait, wake)
		}
		st.idle(ctx, wait, more)
	}
	ex.wait(ctx)
	return nil
}

// RunOnce claims one round of due actions, delivers them and finishes
// them; n is how many it claimed. Its error joins the round's claim
// errors; Finish errors are logged and told to the Observer.
func (w *Worker) RunOnce(ctx context.Context) (n int, err error) {
	st, err := w.setup()
	if err != nil {
		return 0, err
	}
	ex := st.newExecutor(ctx)
	defer ex.cancel()
	n, _, _, err = st.round(ctx, ex)
	ex.wait(ctx)
	return n, err
}

// setup checks the configuration and resolves its defaults, once.
func (w *Worker) setup() (*workerState, error) {
	w.once.Do(func() { w.state, w.err = newWorkerState(w) })
	return w.state, w.err
}

// workerState is what a Worker keeps from round to round.
type workerState struct {
	w                           *Worker
	names                       []string
	dests                       map[string]*destState
	concurrency, batch          int
	lease, timeout, grace, poll time.Duration
	retry                       RetryPolicy

	mu       sync.Mutex
	inflight int
	turn     int
	done     chan struct{} // gets a token when a delivery ends
}

// destState is one destination's limits and load.
type destState struct {
	name     string
	dest     Destination
	batch    BatchDestination // nil: one Deliver per action
	maxBatch int              // batch's MaxBatch, above 1 when batch is set
	cap      int
	limiter  *rate.Limiter
	inflight int  // under workerState.mu
	more     bool // its last claim was full; the claiming goroutine's
}

func newWorkerState(w *Worker) (*workerState, error) {
	switch {
	case w.Queue == nil:
		return nil, errors.New("jobs: worker: no queue")
	case w.Owner == "":
		return nil, errors.New("jobs: worker: no owner (a worker id)")
	case len(w.Destinations) == 0:
		return nil, errors.New("jobs: worker: no destinations")
	}
	st := &workerState{
		w:           w,
		dests:       make(map[string]*destState, len(w.Destinations)),
		concurrency: positive(w.Concurrency, 8),
		lease:       positive(w.Lease, 5*time.Minute),
		timeout:     positive(w.Timeout, 30*time.Second),
		grace:       positive(w.Grace, 10*time.Second),
		poll:        positive(w.PollInterval, time.Second),
		retry:       w.Retry.withDefaults(),
		done:        make(chan struct{}, 1),
	}
	st.batch = positive(w.BatchSize, st.concurrency)
	if w.Grace < 0 {
		st.grace = 0
	}
	if st.lease <= 2*st.timeout {
		return nil, fmt.Errorf("jobs: worker: lease %v must be longer than twice the timeout %v", st.lease, st.timeout)
	}
	for name, d := range w.Destinations {
		if d == nil {
			return nil, fmt.Errorf("jobs: worker: destination %q is nil", name)
		}
		ds := &destState{name: name, dest: d}
		if bd, ok := d.(BatchDestination); ok {
			if mb := bd.MaxBatch(); mb > 1 {
				ds.batch, ds.maxBatch = bd, mb
			}
		}
		st.dests[name] = ds
		st.names = append(st.names, name)
	}
	slices.Sort(st.names)
	for name, l := range w.Limits {
		ds, ok := st.dests[name]
		if !ok {
			return nil, fmt.Errorf("jobs: worker: limits for unknown destination %q", name)
		}
		if l.Concurrency < 0 || l.Burst < 0 || !(l.Rate >= 0) || math.IsInf(l.Rate, 0) {
			return nil, fmt.Errorf("jobs: worker: limits for destination %q: concurrency, rate and burst must be finite and not negative", name)
		}
		ds.cap = l.Concurrency
		if l.Rate > 0 {
			ds.limiter = rate.NewLimiter(rate.Limit(l.Rate), positive(l.Burst, 1))
		}
	}
	return st, nil
}

func positive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func (st *workerState) now() time.Time {
	if st.w.Now != nil {
		return st.w.Now()
	}
	return time.Now()
}

func (st *workerState) random() float64 {
	if st.w.Rand == nil {
		return rand.Float64()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.w.Rand()
}

func (st *workerState) log() *slog.Logger {
	if st.w.Logger != nil {
		return st.w.Logger
	}
	return slog.Default()
}

// round claims for every destination what it has room for and starts
// delivering it. It returns how many actions it claimed, whether some
// destination may have more due, and how soon a rate-limited one with
// more due gets its next token (0: none waits for one).
func (st *workerState) round(ctx context.Context, ex *executor) (claimed int, more bool, wake time.Duration, err error) {
	now := st.now()
	var errs []error
	for _, name := range st.rotation() {
		if ctx.Err() != nil {
			break // stopping: claim no more
		}
		ds := st.dests[name]
		var n int
		var tokenWait time.Duration
		if ds.batch == nil {
			n, tokenWait = st.room(ds, now, st.batch-claimed)
		} else if left := st.batch - claimed; left > 0 {
			// Calls that can start, each taking up to maxBatch actions;
			// bounded by what is left of the round, but never below one
			// full batch.
			calls, wait := st.room(ds, now, st.concurrency)
			n, tokenWait = min(calls*ds.maxBatch, max(left, ds.maxBatch)), wait
		}
		if n == 0 {
			more = more || ds.more
			if ds.more && tokenWait > 0 && (wake == 0 || tokenWait < wake) {
				wake = tokenWait
			}
			continue
		}
		got, cerr := st.w.Queue.Claim(ctx, ClaimRequest{
			Owner:        st.w.Owner,
			Now:          now,
			LeaseUntil:   now.Add(st.lease),
			Limit:        n,
			Destinations: []string{name},
		})
		if cerr != nil {
			if ctx.Err() != nil {
				break // stopping: claim no more
			}
			cerr = fmt.Errorf("jobs: claim for destination %q: %w", name, cerr)
			errs = append(errs, cerr)
			st.queueError("claim", name, cerr)
			continue
		}
		if len(got) > n {
			st.log().Error("jobs: queue claimed more than asked; the rest waits for its lease", "destination", name, "asked", n, "got", len(got))
			got = got[:n]
		}
		ds.more = len(got) == n
		more = more || ds.more
		if ds.batch == nil {
			for i := range got {
				st.begin(ds, now)
				ex.start(ds, &got[i])
			}
		} else {
			for chunk := range slices.Chunk(got, ds.maxBatch) {
				st.begin(ds, now)
				ex.startBatch(ds, chunk)
			}
		}
		claimed += len(got)
	}
	return claimed, more, wake, errors.Join(errs...)
}

// rotation is the order of this round's claims: each round starts one
// destination further on.
func (st *workerState) rotation() []string {
	st.mu.Lock()
	k := st.turn % len(st.names)
	st.turn++
	st.mu.Unlock()
	return append(slices.Clone(st.names[k:]), st.names[:k]...)
}

// room is how many deliveries (Deliver or DeliverBatch calls) to ds may
// start at now, at most left; when
// its rate limit allows none, wait is how long until it allows one.
func (st *workerState) room(ds *destState, now time.Time, left int) (n int, wait time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	n = min(left, st.concurrency-st.inflight)
	if ds.cap > 0 {
		n = min(n, ds.cap-ds.inflight)
	}
	if ds.limiter != nil {
		tokens := ds.limiter.TokensAt(now)
		if tokens < 1 {
			wait = time.Duration((1 - tokens) / float64(ds.limiter.Limit()) * float64(time.Second))
		}
		n = min(n, int(math.Floor(tokens)))
	}
	return max(n, 0), wait
}

// begin counts a delivery (or a batch) to ds in flight and takes its
// rate token.
func (st *workerState) begin(ds *destState, now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.inflight++
	ds.inflight++
	if ds.limiter != nil {
		ds.limiter.AllowN(now, 1)
	}
}

// end counts a delivery to ds finished and wakes Run if it waits.
func (st *workerState) end(ds *destState) {
	st.mu.Lock()
	st.inflight--
	ds.inflight--
	st.mu.Unlock()
	select {
	case st.done <- struct{}{}:
	default:
	}
}

// idle waits d, or until ctx ends, or, when onDone, until a delivery
// ends. The timer only wakes the worker: what is due is decided by Now.
func (st *workerState) idle(ctx context.Context, d time.Duration, onDone bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	var done <-chan struct{}
	if onDone {
		done = st.done
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case <-done:
		}
		// Claim again once half the slots are free, not at every
		// delivery's end: a claim of one action at a time costs a round
		// trip per action (measured: 660 deliveries/s against 2,000+ with
		// 8 workers on PostgreSQL; docs/benchmarks.md).
		st.mu.Lock()
		free := st.concurrency - st.inflight
		st.mu.Unlock()
		if free >= max(1, st.concurrency/2) {
			return
		}
	}
}

func (st *workerState) queueError(op, dest string, err error) {
	if st.w.Observer != nil {
		st.w.Observer.OnQueueError(op, dest, err)
	}
}

// executor runs the deliveries of one Run or RunOnce.
type executor struct {
	st *workerState
	// ctx is the deliveries' context: the caller's values, but it ends
	// only by cancel, a grace period after the caller's context.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (st *workerState) newExecutor(ctx context.Context) *executor {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &executor{st: st, ctx: dctx, cancel: cancel}
}

func (ex *executor) start(ds *destState, d *Delivery) {
	ex.wg.Add(1)
	go func() {
		defer ex.wg.Done()
		defer ex.st.end(ds)
		ex.deliver(ds, d)
	}()
}

// wait waits for the deliveries in flight; once ctx has ended it gives
// them the grace period, then cancels them and waits for their end.
func (ex *executor) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		ex.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	if ex.st.grace > 0 {
		ex.st.log().Info("jobs: worker stopping; deliveries in flight may finish", "grace", ex.st.grace)
		t := time.NewTimer(ex.st.grace)
		defer t.Stop()
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
	ex.st.log().Info("jobs: worker stopping; cancelling deliveries in flight")
	ex.cancel()
	<-done
}

// startBatch delivers ds (one slot, taken by begin) with one DeliverBatch.
func (ex *executor) startBatch(ds *destState, batch []Delivery) {
	ex.wg.Add(1)
	go func() {
		defer ex.wg.Done()
		defer ex.st.end(ds)
		ex.deliverBatch(ds, batch)
	}()
}

// deliver makes one attempt and finishes it.
func (ex *executor) deliver(ds *destState, d *Delivery) {
	st := ex.st
	started := st.now()
	out := attempt(ex.ctx, st.timeout, ds.dest, *d)
	ended := st.now()
	ex.finish(ds, d, out, started, ended)
}

// deliverBatch makes one attempt at every action of batch with one
// DeliverBatch call, then finishes each with its own outcome.
func (ex *executor) deliverBatch(ds *destState, batch []Delivery) {
	st := ex.st
	started := st.now()
	outs := attemptBatch(ex.ctx, st.timeout, ds.name, ds.batch, batch)
	ended := st.now()
	for i := range batch {
		ex.finish(ds, &batch[i], outs[i], started, ended)
	}
}

// finish records the attempt at d that started and ended with out.
func (ex *executor) finish(ds *destState, d *Delivery, out DeliveryOutcome, started, ended time.Time) {
	st := ex.st
	took := ended.Sub(started)

	var f Finished
	if out.Err != nil && ex.ctx.Err() != nil {
		// Cut short by shutdown: due again at once, whatever its count.
		f.Status, f.NextDue = ActionPending, ended
	} else {
		f.Status, f.NextDue = st.retry.decide(d, out, ended, st.random)
	}
	f.ID, f.Owner = d.ID, st.w.Owner
	f.Attempt = Attempt{
		ActionID: d.ID,
		Number:   d.Attempt,
		Worker:   st.w.Owner,
		Started:  started,
		Duration: took,
		Status:   out.Status,
		Response: excerpt(out.Response, MaxResponseExcerpt),
	}
	if out.Err != nil {
		f.Attempt.Error = excerpt(out.Err.Error(), MaxResponseExcerpt)
	}

	fctx, cancel := context.WithTimeout(context.WithoutCancel(ex.ctx), st.timeout)
	ok, err := st.w.Queue.Finish(fctx, f)
	cancel()
	final := f.Status
	switch {
	case err != nil:
		final = ""
		err = fmt.Errorf("jobs: finish action %d: %w", d.ID, err)
		st.log().Error("jobs: worker finish failed; the action is retried after its lease", "action", d.ID, "destination", ds.name, "error", err)
		st.queueError("finish", ds.name, err)
	case !ok:
		final = LeaseLost
		st.log().Warn("jobs: worker lost the lease before finishing; the attempt is not recorded", "action", d.ID, "destination", ds.name, "attempt", d.Attempt)
	}
	if st.w.Observer != nil {
		st.w.Observer.OnAttempt(ds.name, d, out, took, final)
	}
}

// attempt calls dest with its own copy of d and a context that ends
// after timeout; a panic is a failed attempt.
func attempt(ctx context.Context, timeout time.Duration, dest Destination, d Delivery) (out DeliveryOutcome) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			out = DeliveryOutcome{Err: fmt.Errorf("jobs: destination %q panicked: %v", d.Destination, r)}
		}
	}()
	return dest.Deliver(ctx, &d)
}

// attemptBatch calls dest with its own copies of batch and a context
// that ends after timeout. It returns one outcome per delivery: a panic,
// or a wrong number of outcomes, fails them all (retryably).
func attemptBatch(ctx context.Context, timeout time.Duration, name string, dest BatchDestination, batch []Delivery) (outs []DeliveryOutcome) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	failAll := func(err error) []DeliveryOutcome {
		outs := make([]DeliveryOutcome, len(batch))
		for i := range outs {
			outs[i] = DeliveryOutcome{Err: err}
		}
		return outs
	}
	defer func() {
		if r := recover(); r != nil {
			outs = failAll(fmt.Errorf("jobs: destination %q panicked: %v", name, r))
		}
	}()
	copies := slices.Clone(batch)
	ds := make([]*Delivery, len(copies))
	for i := range copies {
		ds[i] = &copies[i]
	}
	outs = dest.DeliverBatch(ctx, ds)
	if len(outs) != len(batch) {
		return failAll(fmt.Errorf("jobs: destination %q returned %d outcomes for a batch of %d", name, len(outs), len(batch)))
	}
	return outs
}
