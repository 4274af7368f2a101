package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tierflow/tierflow/jobs"
)

var t0 = time.Date(2024, 7, 1, 9, 0, 0, 0, time.UTC)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeQueue is an in-memory jobs.Queue with leases and owner fencing, as
// the interface documents them.
type fakeQueue struct {
	mu      sync.Mutex
	actions []*fakeAction // by id
	lost    int           // Finish calls refused for want of the lease
}

type fakeAction struct {
	d          jobs.Delivery
	status     string
	attempts   int
	owner      string
	leaseUntil time.Time
	history    []jobs.Attempt
	owners     []string // every claimant, in order
}

// add queues n actions for dest, created and due at t0.
func (q *fakeQueue) add(n int, dest string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for range n {
		id := int64(len(q.actions) + 1)
		q.actions = append(q.actions, &fakeAction{status: jobs.ActionPending, d: jobs.Delivery{
			ID: id, IdempotencyKey: fmt.Sprintf("key-%d", id), RuleSet: "rs", Action: "winback_call",
			Customer: fmt.Sprintf("c%d", id), CreatedAt: t0, DueAt: t0, Destination: dest,
		}})
	}
}

func (q *fakeQueue) Claim(ctx context.Context, req jobs.ClaimRequest) ([]jobs.Delivery, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var due []*fakeAction
	for _, a := range q.actions {
		if !slices.Contains(req.Destinations, a.d.Destination) {
			continue
		}
		pending := a.status == jobs.ActionPending && !a.d.DueAt.After(req.Now)
		lapsed := a.status == jobs.ActionClaimed && !a.leaseUntil.After(req.Now)
		if pending || lapsed {
			due = append(due, a)
		}
	}
	slices.SortStableFunc(due, func(a, b *fakeAction) int {
		if a.d.Priority != b.d.Priority {
			return a.d.Priority - b.d.Priority
		}
		return a.d.DueAt.Compare(b.d.DueAt)
	})
	var out []jobs.Delivery
	for _, a := range due[:min(len(due), req.Limit)] {
		a.attempts++
		a.status, a.owner, a.leaseUntil = jobs.ActionClaimed, req.Owner, req.LeaseUntil
		a.owners = append(a.owners, req.Owner)
		d := a.d
		d.Attempt = a.attempts
		if len(a.history) > 0 {
			d.FirstAttempt = a.history[0].Started
		}
		out = append(out, d)
	}
	return out, nil
}

func (q *fakeQueue) Finish(ctx context.Context, f jobs.Finished) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a := q.actions[f.ID-1]
	if a.status != jobs.ActionClaimed || a.owner != f.Owner {
		q.lost++
		return false, nil
	}
	a.status, a.owner = f.Status, ""
	if f.Status == jobs.ActionPending {
		a.d.DueAt = f.NextDue
	}
	a.history = append(a.history, f.Attempt)
	return true, nil
}

// action returns a copy of action id's record.
func (q *fakeQueue) action(id int64) fakeAction {
	q.mu.Lock()
	defer q.mu.Unlock()
	a := *q.actions[id-1]
	a.history = slices.Clone(a.history)
	return a
}

// fakeDest is a destination that answers with fn (success when nil),
// counting calls and deliveries in flight.
type fakeDest struct {
	fn func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome

	mu          sync.Mutex
	calls       []jobs.Delivery
	inflight    int
	maxInflight int
}

func (f *fakeDest) Deliver(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
	f.mu.Lock()
	f.calls = append(f.calls, *d)
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if f.fn == nil {
		return jobs.DeliveryOutcome{Status: 200, Response: "ok"}
	}
	return f.fn(ctx, d)
}

func (f *fakeDest) delivered() []jobs.Delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// recorder is a WorkerObserver that sends every attempt on a channel.
type recorder struct {
	attempts chan attemptSeen
	mu       sync.Mutex
	errs     []error
}

type attemptSeen struct {
	dest, final string
	id          int64
}

func newRecorder() *recorder { return &recorder{attempts: make(chan attemptSeen, 1000)} }

func (r *recorder) OnAttempt(dest string, d *jobs.Delivery, out jobs.DeliveryOutcome, took time.Duration, final string) {
	r.attempts <- attemptSeen{dest: dest, final: final, id: d.ID}
}

func (r *recorder) OnQueueError(op, dest string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// logCatcher is a slog handler that sends each message on a channel.
type logCatcher chan string

func (l logCatcher) Enabled(context.Context, slog.Level) bool { return true }
func (l logCatcher) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l logCatcher) WithGroup(string) slog.Handler            { return l }
func (l logCatcher) Handle(_ context.Context, r slog.Record) error {
	select {
	case l <- r.Message:
	default:
	}
	return nil
}

func newWorker(q jobs.Queue, c *fakeClock, dests map[string]jobs.Destination) *jobs.Worker {
	return &jobs.Worker{
		Queue:        q,
		Destinations: dests,
		Owner:        "host-1-abc",
		Now:          c.Now,
		Rand:         func() float64 { return 0.5 },
		Retry:        jobs.RetryPolicy{Base: time.Minute, Max: time.Hour, Factor: 2, Jitter: -1, MaxAttempts: 5},
		PollInterval: time.Millisecond,
		Logger:       quiet(),
	}
}

// failing answers a 500 with the error "boom N" for attempt N.
func failing(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
	return jobs.DeliveryOutcome{Err: fmt.Errorf("boom %d", d.Attempt), Status: 500, Response: "server error"}
}

func TestWorkerDelivers(t *testing.T) {
	q, c := &fakeQueue{}, newClock()
	q.add(3, "crm")
	dest := &fakeDest{}
	w := newWorker(q, c, map[string]jobs.Destination{"crm": dest})
	n, err := w.RunOnce(context.Background())
	if err != nil || n != 3 {
		t.Fatalf("RunOnce = %d, %v; want 3, nil", n, err)
	}
	if got := len(dest.delivered()); got != 3 {
		t.Fatalf("destination got %d deliveries, want 3", got)
	}
	for id := int64(1); id <= 3; id++ {
		a := q.action(id)
		if a.status != jobs.ActionDone {
			t.Errorf("action %d is %s, want done", id, a.status)
		}
		want := jobs.Attempt{ActionID: id, Number: 1, Worker: "host-1-abc", Started: t0, Status: 200, Response: "ok"}
		if len(a.history) != 1 || a.history[0] != want {
			t.Errorf("action %d attempts = %+v, want [%+v]", id, a.history, want)
		}
	}
	if n, err := w.RunOnce(context.Background()); err != nil || n != 0 {
		t.Errorf("second RunOnce = %d, %v; want 0, nil (nothing left)", n, err)
	}
}

func TestWorkerRetriesWithBackoff(t *testing.T) {
	q, c := &fakeQueue{}, newClock()
	q.add(1, "crm")
	dest := &fakeDest{fn: func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
		if d.Attempt < 3 {
			return failing(ctx, d)
		}
		return jobs.DeliveryOutcome{Status: 201}
	}}
	w := newWorker(q, c, map[string]jobs.Destination{"crm": dest})
	ctx := context.Background()

	for i, wait := range []time.Duration{time.Minute, 2 * time.Minute} {
		start := c.Now()
		if n, err := w.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("attempt %d: RunOnce = %d, %v; want 1, nil", i+1, n, err)
		}
		a := q.action(1)
		if a.status != jobs.ActionPending || !a.d.DueAt.Equal(start.Add(wait)) {
			t.Fatalf("after attempt %d: %s due %v, want pending due %v", i+1, a.status, a.d.DueAt, start.Add(wait))
		}
		c.Add(wait - time.Second)
		if n, _ := w.RunOnce(ctx); n != 0 {
			t.Fatalf("after attempt %d: claimed %d a second before it was due", i+1, n)
		}
		c.Add(time.Second)
	}
	if n, err := w.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("attempt 3: RunOnce = %d, %v; want 1, nil", n, err)
	}
	a := q.action(1)
	if a.status != jobs.ActionDone {
		t.Fatalf("after attempt 3: %s, want done", a.status)
	}
	var errs []string
	for _, at := range a.history {
		errs = append(errs, at.Error)
	}
	if want := []string{"boom 1", "boom 2", ""}; !slices.Equal(errs, want) {
		t.Errorf("attempt errors = %q, want %q", errs, want)
	}
}

func TestWorkerRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter time.Duration
		want       time.Duration
	}{
		{"longer than the backoff", 10 * time.Minute, 10 * time.Minute},
		{"shorter than the backoff", 5 * time.Second, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, c := &fakeQueue{}, newClock()
			q.add(1, "crm")
			dest := &fakeDest{fn: func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
				return jobs.DeliveryOutcome{Err: errors.New("too many requests"), Status: 429, RetryAfter: tt.retryAfter}
			}}
			w := newWorker(q, c, map[string]jobs.Destination{"crm": dest})
			if _, err := w.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			a := q.action(1)
			if a.status != jobs.ActionPending || !a.d.DueAt.Equal(t0.Add(tt.want)) {
				t.Errorf("%s due %v, want pending due %v", a.status, a.d.DueAt, t0.Add(tt.want))
			}
		})
	}
}

func TestWorkerDeadLetters(t *testing.T) {
	tests := []struct {
		name     string
		fn       func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome
		age      time.Duration // how long after t0 the worker starts
		maxAge   time.Duration // the policy's MaxAge, when set
		attempts int           // until dead
		lastErr  string
	}{
		{
			name: "permanent",
			fn: func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
				return jobs.DeliveryOutcome{Err: errors.New("not found"), Status: 404, Permanent: true}
			},
			attempts: 1, lastErr: "not found",
		},
		{name: "max attempts", fn: failing, attempts: 5, lastErr: "boom 5"},
		// MaxAge counts from the first attempt: attempts at 0h, 1h, 2h are
		// retried, the one at 3h is past 2h30m.
		{name: "max age", fn: failing, maxAge: 150 * time.Minute, attempts: 4, lastErr: "boom 4"},
		// An action first tried 73h after it was queued (a long delay) is
		// not past the default 72h on its first failure.
		{name: "late first attempt", fn: failing, age: 73 * time.Hour, attempts: 5, lastErr: "boom 5"},
		{
			name: "panic counts as a failure",
			fn: func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
				panic("mapping bug")
			},
			attempts: 5, lastErr: `jobs: destination "crm" panicked: mapping bug`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, c := &fakeQueue{}, newClock()
			q.add(1, "crm")
			c.Add(tt.age)
			dest := &fakeDest{fn: tt.fn}
			w := newWorker(q, c, map[string]jobs.Destination{"crm": dest})
			if tt.maxAge != 0 {
				w.Retry.MaxAge = tt.maxAge
			}
			for range 10 {
				if _, err := w.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
				c.Add(time.Hour)
			}
			a := q.action(1)
			if a.status != jobs.ActionDead {
				t.Fatalf("action is %s, want dead", a.status)
			}
			if len(dest.delivered()) != tt.attempts || len(a.history) != tt.attempts {
				t.Errorf("%d deliveries, %d attempts recorded; want %d", len(dest.delivered()), len(a.history), tt.attempts)
			}
			if last := a.history[len(a.history)-1]; last.Error != tt.lastErr {
				t.Errorf("last error %q, want %q", last.Error, tt.lastErr)
			}
		})
	}
}

func TestWorkerResponseExcerpt(t *testing.T) {
	long := strings.Repeat("é", 1000) + "\xff" // 2001 bytes, one invalid
	q, c := &fakeQueue{}, newClock()
	q.add(1, "crm")
	dest := &fakeDest{fn: func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
		return jobs.DeliveryOutcome{Err: errors.New(long), Status: 500, Response: "\xff" + long}
	}}
	w := newWorker(q, c, map[string]jobs.Destination{"crm": dest})
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	at := q.action(1).history[0]
	for name, s := range map[string]string{"response": at.Response, "error": at.Error} {
		if len(s) > jobs.MaxResponseExcerpt || len(s) < jobs.MaxResponseExcerpt-3 || !utf8.ValidString(s) {
			t.Errorf("%s excerpt: %d bytes, valid UTF-8 %v; want at most %d valid", name, len(s), utf8.ValidString(s), jobs.MaxResponseExcerpt)
		}
	}
	if !strings.HasPrefix(at.Response, "\uFFFDé") {
		t.Errorf("response excerpt starts %q, want the invalid byte replaced", at.Response[:8])
	}
}

// TestWorkerDestinationCap: a destination capped at 2 never has more
// than 2 deliveries in flight, and a slow one does not hold up another.
func TestWorkerDestinationCap(t *testing.T) {
	q, c := &fakeQueue{}, newClock()
	q.add(10, "slow")
	q.add(5, "fast")
	entered, release := make(chan struct{}, 100), make(chan struct{})
	slow := &fakeDest{fn: func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
		entered <- struct{}{}
		select {
		case <-release:
			return jobs.DeliveryOutcome{Status: 200}
		case <-ctx.Done():
			return jobs.DeliveryOutcome{Err: ctx.Err()}
		}
	}}
	fast := &fakeDest{}
	rec := newRecorder()
	w := newWorker(q, c, map[string]jobs.Destination{"slow": slow, "fast": fast})
	w.Limits = map[string]jobs.DestinationLimits{"slow": {Concurrency: 2}}
	w.Observer = rec
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error)
	go func() { ran <- w.Run(ctx) }()

	<-entered
	<-entered // two slow ones wait for release
	for done := 0; done < 5; {
		if a := <-rec.attempts; a.dest == "fast" {
			done++
		} else {
			t.Fatalf("a slow delivery finished before any was released")
		}
	}
	go func() {
		for range 10 {
			release <- struct{}{}
		}
	}()
	for range 10 {
		if a := <-rec.attempts; a.final != jobs.ActionDone {
			t.Errorf("action %d: %s, want done", a.id, a.final)
		}
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if slow.maxInflight != 2 {
		t.Errorf("slow had up to %d deliveries in flight, want 2 (its cap)", slow.maxInflight)
	}
	if got := len(slow.delivered()); got != 10 {
		t.Errorf("slow got %d deliveries, want 10", got)
	}
}

// TestWorkerRateLimit: 2 a second in bursts of 2, on an injected clock
// that moves 100ms between rounds.
func TestWorkerRateLimit(t *testing.T) {
	q, c := &fakeQueue{}, newClock()
	q.add(12, "crm")
	var mu sync.Mutex
	var at []time.Duration // the clock at each delivery, from t0
	dest := &fakeDest{fn: func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
		mu.Lock()
		defer mu.Unlock()
		at = append(at, c.Now().Sub(t0))
		return jobs.DeliveryOutcome{Status: 200}
	}}
	w := newWorker(q, c, map[string]jobs.Destination{"crm": dest})
	w.Limits = map[string]jobs.DestinationLimits{"crm": {Rate: 2, Burst: 2}}
	for range 80 {
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		c.Add(100 * time.Millisecond)
	}
	if len(at) != 12 {
		t.Fatalf("%d deliveries in 8s, want all 12", len(at))
	}
	for i, d := range at {
		if allowed := 2 + 2*d.Seconds(); float64(i+1) > allowed+1e-9 {
			t.Errorf("delivery %d at +%v: more than burst 2 + 2/s allow (%.1f)", i+1, d, allowed)
		}
	}
	if at[1] != 0 || at[2] == 0 {
		t.Errorf("deliveries at %v: want the burst of 2 at once, then a wait", at[:3])
	}
	for _, a := range q.actions {
		if a.attempts != 1 {
			t.Errorf("action %d claimed %d times; claims should wait for a token", a.d.ID, a.attempts)
		}
	}
}

// TestWorkerLeaseLost: a worker whose lease ran out mid-delivery finds
// Finish refused; it counts that and goes on without error, and the
// worker that took the action over records its attempt.
func TestWorkerLeaseLost(t *testing.T) {
	q, c := &fakeQueue{}, newClock()
	q.add(1, "crm")
	entered, release := make(chan struct{}), make(chan struct{})
	stuck := &fakeDest{fn: func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
		close(entered)
		<-release
		return jobs.DeliveryOutcome{Status: 200}
	}}
	recA := newRecorder()
	a := newWorker(q, c, map[string]jobs.Destination{"crm": stuck})
	a.Observer = recA
	b := newWorker(q, c, map[string]jobs.Destination{"crm": &fakeDest{}})
	b.Owner = "host-2-def"

	type result struct {
		n   int
		err error
	}
	ranA := make(chan result)
	go func() {
		n, err := a.RunOnce(context.Background())
		ranA <- result{n, err}
	}()
	<-entered
	c.Add(5*time.Minute + time.Second) // past A's lease
	if n, err := b.RunOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("B: RunOnce = %d, %v; want 1, nil (A's lease ran out)", n, err)
	}
	close(release)
	if r := <-ranA; r.err != nil || r.n != 1 {
		t.Fatalf("A: RunOnce = %d, %v; want 1, nil", r.n, r.err)
	}
	if seen := <-recA.attempts; seen.final != jobs.LeaseLost {
		t.Errorf("A's attempt ended %q, want %q", seen.final, jobs.LeaseLost)
	}
	act := q.action(1)
	if act.status != jobs.ActionDone || len(act.history) != 1 || act.history[0].Worker != "host-2-def" {
		t.Errorf("action: %s with attempts %+v; want done with B's attempt only", act.status, act.history)
	}
	if q.lost != 1 {
		t.Errorf("queue refused %d finishes, want 1", q.lost)
	}
}

// TestWorkersShareQueue: two workers on one queue deliver every action
// exactly once when nothing fails.
func TestWorkersShareQueue(t *testing.T) {
	const total = 300
	q, c := &fakeQueue{}, newClock()
	q.add(total, "crm")
	dest := &fakeDest{}
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range 2 {
		w := newWorker(q, c, map[string]jobs.Destination{"crm": dest})
		w.Owner = fmt.Sprintf("host-%d", i)
		w.Concurrency, w.BatchSize = 4, 3
		// Only a full batch or a freed slot may wake a worker: the
		// poll would come too late for the test.
		w.PollInterval = time.Hour
		w.Observer = rec
		wg.Go(func() {
			if err := w.Run(ctx); err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		})
	}
	for range total {
		if a := <-rec.attempts; a.final != jobs.ActionDone {
			t.Errorf("action %d: %s, want done", a.id, a.final)
		}
	}
	cancel()
	wg.Wait()

	count := map[int64]int{}
	for _, d := range dest.delivered() {
		count[d.ID]++
	}
	owners := map[string]bool{}
	for id := int64(1); id <= total; id++ {
		a := q.action(id)
		if count[id] != 1 || a.status != jobs.ActionDone || len(a.owners) != 1 {
			t.Errorf("action %d: delivered %d times, %s, claimed by %v; want once, done, one claim", id, count[id], a.status, a.owners)
			continue
		}
		owners[a.owners[0]] = true
	}
	if len(owners) != 2 {
		t.Logf("only %v delivered; the other worker found nothing left", owners)
	}
}

// TestWorkerCancel: once Run's context ends it claims nothing more;
// within the grace period a delivery in flight finishes, and after it
// it is cancelled and left pending, due at once.
func TestWorkerCancel(t *testing.T) {
	tests := []struct {
		name      string
		grace     time.Duration
		release   bool // the destination answers after the cancel
		status    string
		lastError string
	}{
		{"finishes within grace", time.Hour, true, jobs.ActionDone, ""},
		{"cancelled without grace", -1, false, jobs.ActionPending, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, c := &fakeQueue{}, newClock()
			q.add(5, "crm")
			entered, release := make(chan struct{}, 5), make(chan struct{})
			dest := &fakeDest{fn: func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
				entered <- struct{}{}
				select {
				case <-release:
					return jobs.DeliveryOutcome{Status: 200, Err: ctx.Err()}
				case <-ctx.Done():
					return jobs.DeliveryOutcome{Err: ctx.Err()}
				}
			}}
			logs := make(logCatcher, 10)
			w := newWorker(q, c, map[string]jobs.Destination{"crm": dest})
			w.Concurrency, w.Grace, w.Logger = 1, tt.grace, slog.New(logs)
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan error)
			go func() { ran <- w.Run(ctx) }()
			<-entered
			cancel()
			if tt.release {
				// Release the delivery once the grace period has begun: a
				// delivery context that ended with Run's would be done.
				for msg := range logs {
					if strings.Contains(msg, "may finish") {
						break
					}
					if strings.Contains(msg, "cancelling") {
						t.Fatalf("deliveries cancelled without their grace period")
					}
				}
				close(release)
			}
			if err := <-ran; err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := len(dest.delivered()); got != 1 {
				t.Errorf("%d deliveries, want the 1 in flight at the cancel", got)
			}
			first := q.action(1)
			if first.status != tt.status || len(first.history) != 1 || first.history[0].Error != tt.lastError {
				t.Errorf("action 1: %s, attempts %+v; want %s with error %q", first.status, first.history, tt.status, tt.lastError)
			}
			if tt.status == jobs.ActionPending && !first.d.DueAt.Equal(c.Now()) {
				t.Errorf("cancelled action due %v, want at once (%v)", first.d.DueAt, c.Now())
			}
			for id := int64(2); id <= 5; id++ {
				if a := q.action(id); a.attempts != 0 {
					t.Errorf("action %d claimed after the cancel", id)
				}
			}
		})
	}
}

func TestWorkerConfigErrors(t *testing.T) {
	q := &fakeQueue{}
	dests := map[string]jobs.Destination{"crm": &fakeDest{}}
	tests := []struct {
		name string
		w    *jobs.Worker
		want string
	}{
		{"no queue", &jobs.Worker{Destinations: dests, Owner: "w"}, "jobs: worker: no queue"},
		{"no owner", &jobs.Worker{Queue: q, Destinations: dests}, "jobs: worker: no owner (a worker id)"},
		{"no destinations", &jobs.Worker{Queue: q, Owner: "w"}, "jobs: worker: no destinations"},
		{"timeout too long", &jobs.Worker{Queue: q, Destinations: dests, Owner: "w", Lease: time.Minute, Timeout: 30 * time.Second},
			"jobs: worker: lease 1m0s must be longer than twice the timeout 30s"},
		{"unknown limits", &jobs.Worker{Queue: q, Destinations: dests, Owner: "w", Limits: map[string]jobs.DestinationLimits{"crn": {Rate: 1}}},
			`jobs: worker: limits for unknown destination "crn"`},
		{"negative rate", &jobs.Worker{Queue: q, Destinations: dests, Owner: "w", Limits: map[string]jobs.DestinationLimits{"crm": {Rate: -1}}},
			`jobs: worker: limits for destination "crm": concurrency, rate and burst must be finite and not negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.w.RunOnce(context.Background())
			if err == nil || err.Error() != tt.want {
				t.Errorf("RunOnce error %v, want %q", err, tt.want)
			}
		})
	}
}

// fakeBatchDest is a BatchDestination that answers each delivery with fn
// (success when nil), or the whole batch with batchFn when set, counting
// calls and batches in flight. Deliver is never expected.
type fakeBatchDest struct {
	max     int
	fn      func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome
	batchFn func(ctx context.Context, ds []*jobs.Delivery) []jobs.DeliveryOutcome

	mu          sync.Mutex
	sizes       []int // each DeliverBatch call's size
	ids         []int64
	single      int // Deliver calls
	inflight    int
	maxInflight int
}

func (f *fakeBatchDest) MaxBatch() int { return f.max }

func (f *fakeBatchDest) Deliver(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
	f.mu.Lock()
	f.single++
	f.mu.Unlock()
	return jobs.DeliveryOutcome{Status: 200}
}

func (f *fakeBatchDest) DeliverBatch(ctx context.Context, ds []*jobs.Delivery) []jobs.DeliveryOutcome {
	f.mu.Lock()
	f.sizes = append(f.sizes, len(ds))
	for _, d := range ds {
		f.ids = append(f.ids, d.ID)
	}
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if f.batchFn != nil {
		return f.batchFn(ctx, ds)
	}
	outs := make([]jobs.DeliveryOutcome, len(ds))
	for i, d := range ds {
		if f.fn == nil {
			outs[i] = jobs.DeliveryOutcome{Status: 200}
		} else {
			outs[i] = f.fn(ctx, d)
		}
	}
	return outs
}

func (f *fakeBatchDest) calls() (sizes []int, ids []int64, single int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sizes), slices.Clone(f.ids), f.single
}

// TestWorkerBatches: 250 due actions for a destination that takes 100 at
// a time go out in calls of at most 100, each action exactly once.
func TestWorkerBatches(t *testing.T) {
	for _, batchSize := range []int{0, 1000} {
		t.Run(fmt.Sprintf("BatchSize=%d", batchSize), func(t *testing.T) {
			q, c := &fakeQueue{}, newClock()
			q.add(250, "zoho")
			dest := &fakeBatchDest{max: 100}
			rec := newRecorder()
			w := newWorker(q, c, map[string]jobs.Destination{"zoho": dest})
			w.BatchSize = batchSize
			w.Observer = rec
			total := 0
			for range 10 {
				n, err := w.RunOnce(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
				total += n
			}
			if total != 250 {
				t.Fatalf("claimed %d in all, want 250", total)
			}
			sizes, ids, single := dest.calls()
			if single != 0 {
				t.Errorf("%d Deliver calls to a batch destination, want 0", single)
			}
			if len(sizes) != 3 {
				t.Errorf("%d DeliverBatch calls (%v), want 3", len(sizes), sizes)
			}
			for _, s := range sizes {
				if s > 100 || s == 0 {
					t.Errorf("a batch of %d (max 100)", s)
				}
			}
			slices.Sort(ids)
			if len(ids) != 250 || len(slices.Compact(ids)) != 250 {
				t.Errorf("%d deliveries, distinct ids %d; want 250 each once", len(ids), len(slices.Compact(ids)))
			}
			for id := int64(1); id <= 250; id++ {
				if a := q.action(id); a.status != jobs.ActionDone || a.attempts != 1 || len(a.history) != 1 {
					t.Errorf("action %d: %s after %d claims, %d attempts recorded; want done once", id, a.status, a.attempts, len(a.history))
				}
			}
			if got := len(rec.attempts); got != 250 {
				t.Errorf("observer told of %d attempts, want 250", got)
			}
		})
	}
}

// TestWorkerBatchMixed: a batch whose outcomes partly fail leaves the
// failed actions pending with backoff and the others done.
func TestWorkerBatchMixed(t *testing.T) {
	q, c := &fakeQueue{}, newClock()
	q.add(10, "zoho")
	dest := &fakeBatchDest{max: 100, fn: func(ctx context.Context, d *jobs.Delivery) jobs.DeliveryOutcome {
		if d.ID%2 == 0 {
			return failing(ctx, d)
		}
		return jobs.DeliveryOutcome{Status: 200}
	}}
	w := newWorker(q, c, map[string]jobs.Destination{"zoho": dest})
	if n, err := w.RunOnce(context.Background()); err != nil || n != 10 {
		t.Fatalf("RunOnce = %d, %v; want 10, nil", n, err)
	}
	if sizes, _, _ := dest.calls(); !slices.Equal(sizes, []int{10}) {
		t.Fatalf("batches %v, want one of 10", sizes)
	}
	for id := int64(1); id <= 10; id++ {
		a := q.action(id)
		if id%2 == 0 {
			if a.status != jobs.ActionPending || !a.d.DueAt.Equal(t0.Add(time.Minute)) || a.history[0].Error != "boom 1" || a.history[0].Status != 500 {
				t.Errorf("action %d: %s due %v, attempt %+v; want pending due +1m after boom 1", id, a.status, a.d.DueAt, a.history[0])
			}
		} else if a.status != jobs.ActionDone || a.history[0].Status != 200 {
			t.Errorf("action %d: %s, attempt %+v; want done", id, a.status, a.history[0])
		}
	}
}

// TestWorkerBatchBadOutcomes: a DeliverBatch that returns too few
// outcomes, or panics, fails the whole batch, to be retried.
func TestWorkerBatchBadOutcomes(t *testing.T) {
	for name, fn := range map[string]func(ctx context.Context, ds []*jobs.Delivery) []jobs.DeliveryOutcome{
		"short": func(ctx context.Context, ds []*jobs.Delivery) []jobs.DeliveryOutcome {
			return make([]jobs.DeliveryOutcome, len(ds)-1)
		},
		"panic": func(ctx context.Context, ds []*jobs.Delivery) []jobs.DeliveryOutcome {
			panic("kaboom")
		},
	} {
		t.Run(name, func(t *testing.T) {
			q, c := &fakeQueue{}, newClock()
			q.add(5, "zoho")
			dest := &fakeBatchDest{max: 100, batchFn: fn}
			w := newWorker(q, c, map[string]jobs.Destination{"zoho": dest})
			if n, err := w.RunOnce(context.Background()); err != nil || n != 5 {
				t.Fatalf("RunOnce = %d, %v; want 5, nil", n, err)
			}
			for id := int64(1); id <= 5; id++ {
				a := q.action(id)
				if a.status != jobs.ActionPending || !a.d.DueAt.Equal(t0.Add(time.Minute)) || len(a.history) != 1 || a.history[0].Error == "" {
					t.Errorf("action %d: %s due %v, attempts %+v; want pending due +1m with an error", id, a.status, a.d.DueAt, a.history)
				}
			}
			t.Log(q.action(1).history[0].Error)
		})
	}
}

// TestWorkerBatchCap: a destination's concurrency cap counts batches,
// not actions, and no more is claimed than can start.
func TestWorkerBatchCap(t *testing.T) {
	q, c := &fakeQueue{}, newClock()
	q.add(30, "zoho")
	entered, release := make(chan int, 100), make(chan struct{})
	dest := &fakeBatchDest{max: 5, batchFn: func(ctx context.Context, ds []*jobs.Delivery) []jobs.DeliveryOutcome {
		entered <- len(ds)
		select {
		case <-release:
		case <-ctx.Done():
		}
		outs := make([]jobs.DeliveryOutcome, len(ds))
		for i := range outs {
			outs[i] = jobs.DeliveryOutcome{Status: 200, Err: ctx.Err()}
		}
		return outs
	}}
	rec := newRecorder()
	w := newWorker(q, c, map[string]jobs.Destination{"zoho": dest})
	w.Limits = map[string]jobs.DestinationLimits{"zoho": {Concurrency: 2}}
	w.BatchSize = 100
	w.Observer = rec
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error)
	go func() { ran <- w.Run(ctx) }()

	for range 2 {
		if n := <-entered; n != 5 {
			t.Errorf("a batch of %d, want 5", n)
		}
	}
	time.Sleep(20 * time.Millisecond) // let rounds run: they must claim nothing
	select {
	case n := <-entered:
		t.Fatalf("a third batch (of %d) started under a cap of 2", n)
	default:
	}
	claimed := 0
	for id := int64(1); id <= 30; id++ {
		if a := q.action(id); a.status == jobs.ActionClaimed {
			claimed++
		}
	}
	if claimed != 10 {
		t.Errorf("%d actions claimed while 2 batches of 5 are in flight, want 10", claimed)
	}
	go func() {
		for range 6 {
			release <- struct{}{}
		}
	}()
	for range 30 {
		if a := <-rec.attempts; a.final != jobs.ActionDone {
			t.Errorf("action %d: %s, want done", a.id, a.final)
		}
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	sizes, _, single := dest.calls()
	if dest.maxInflight != 2 {
		t.Errorf("up to %d batches in flight, want 2 (the cap)", dest.maxInflight)
	}
	if single != 0 || len(sizes) != 6 {
		t.Errorf("%d Deliver calls and batches %v; want 6 batches of 5", single, sizes)
	}
}
