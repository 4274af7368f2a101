package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// QueueStore is a state store with the delivery queue: jobs.Queue, and
// what `tierflow actions` reads and changes it with.
type QueueStore interface {
	StateStore
	jobs.Queue
	Attempts(ctx context.Context, actionID int64) ([]jobs.Attempt, error)
	RetryAction(ctx context.Context, id int64, now time.Time) error
	CancelAction(ctx context.Context, id int64) error
}

var stateQueueCases = []stateCase{
	{"queue: claim by due time, destination and priority; leases exclude others", testQueueClaim},
	{"queue: a lapsed lease is claimed again; the old owner's Finish writes nothing", testQueueLapsedLease},
	{"queue: done, retry later and dead record attempts; retry and cancel by hand", testQueueFinish},
	{"queue: concurrent workers deliver every action once, never two at a time", testQueueRace},
}

// queueRuleSet is the retail example in which every customer gets every
// action on the first run: winback_call (priority 1, due a day after the
// as-of) and onboarding_message (priority 5, due at once) delivered to
// "hook", vip_care_visit (priority 2) to "crm".
func queueRuleSet(t testing.TB) *rules.RuleSet {
	rs := RetailRuleSet(t,
		`when: entered("lifecycle", "at_risk") && segment.value_tier in ["vip", "key"]`, `when: orders_12m >= 0`,
		`when: entered("lifecycle", "new")`, `when: orders_12m >= 0`,
		`when: downgraded("value_tier") && previous.value_tier == "vip"`, `when: orders_12m >= 0`)
	to := map[string]string{"winback_call": "hook", "onboarding_message": "hook", "vip_care_visit": "crm"}
	for i := range rs.Actions {
		rs.Actions[i].DeliverTo = to[rs.Actions[i].Name]
	}
	return rs
}

// newQueueEnv applies queueRuleSet to n customers as of asOf and returns
// the store as a QueueStore.
func newQueueEnv(t *testing.T, newStore func(t *testing.T) StateBackend, n int) (*stateEnv, QueueStore) {
	t.Helper()
	e := newStateEnv(t, newStore, n)
	q, ok := e.s.(QueueStore)
	if !ok {
		t.Fatalf("%T has no delivery queue", e.s)
	}
	o := Options()
	o.InitialActions = true
	e.applyAt(queueRuleSet(t), asOf, o)
	if got := len(e.queue(kernel.ActionFilter{})); got != 3*n {
		t.Fatalf("the apply queued %d actions, want %d", got, 3*n)
	}
	return e, q
}

func claim(t *testing.T, q jobs.Queue, owner string, now time.Time, limit int, dests ...string) []jobs.Delivery {
	t.Helper()
	ds, err := q.Claim(context.Background(), jobs.ClaimRequest{Owner: owner, Now: now, LeaseUntil: now.Add(time.Hour),
		Limit: limit, Destinations: dests})
	if err != nil {
		t.Fatalf("claim by %s at %s: %v", owner, now, err)
	}
	return ds
}

func actionNames(ds []jobs.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s/%s#%d", d.Action, d.Customer, d.Attempt))
	}
	return out
}

func testQueueClaim(t *testing.T, newStore func(t *testing.T) StateBackend) {
	e, q := newQueueEnv(t, newStore, 3)
	if got := e.queue(kernel.ActionFilter{Destination: "crm"}); len(got) != 3 || got[0].Action != "vip_care_visit" {
		t.Fatalf("actions filtered by destination crm: %+v", got)
	}
	if got := e.queue(kernel.ActionFilter{Destination: "hook", Action: "winback_call"}); len(got) != 3 || got[0].Destination != "hook" {
		t.Fatalf("winback_call actions of hook: %+v", got)
	}
	if got := claim(t, q, "w1", asOf, 10); len(got) != 0 {
		t.Fatalf("a claim for no destination took %v", actionNames(got))
	}
	// As of the run only onboarding_message is due; crm's are not asked for.
	got := claim(t, q, "w1", asOf, 10, "hook")
	if len(got) != 3 {
		t.Fatalf("claim at the as-of: %v, want the 3 onboarding messages", actionNames(got))
	}
	for i, d := range got {
		if d.Action != "onboarding_message" || d.Destination != "hook" || d.Attempt != 1 || d.IdempotencyKey == "" ||
			d.RuleSet != "retail" || !d.DueAt.Equal(asOf) || !d.CreatedAt.Equal(asOf) || len(d.Payload) == 0 {
			t.Fatalf("claimed %+v", d)
		}
		if i > 0 && got[i-1].ID >= d.ID {
			t.Fatalf("claim order: %v", actionNames(got))
		}
	}
	if again := claim(t, e.another().(QueueStore), "w2", asOf.Add(30*time.Minute), 10, "hook"); len(again) != 0 {
		t.Fatalf("a second claim while the first is leased: %v", actionNames(again))
	}
	held := e.queue(kernel.ActionFilter{Status: jobs.ActionClaimed, Action: "onboarding_message"})
	if len(held) != 3 || held[0].LeaseOwner != "w1" || held[0].LeaseUntil == nil || !held[0].LeaseUntil.Equal(asOf.Add(time.Hour)) || held[0].Attempts != 1 {
		t.Fatalf("claimed rows: %+v", held)
	}
	// Priority before due time: winback_call (1, due day 1) before
	// vip_care_visit (2, due day 2), before onboarding_message (5).
	_, q2 := newQueueEnv(t, newStore, 2)
	all := claim(t, q2, "w", day(5), 4, "hook", "crm")
	want := []string{"winback_call", "winback_call", "vip_care_visit", "vip_care_visit"}
	for i, d := range all {
		if i >= len(want) || d.Action != want[i] {
			t.Fatalf("claim across destinations: %v, want %v", actionNames(all), want)
		}
	}
	if len(all) != len(want) {
		t.Fatalf("claim with limit 4: %v", actionNames(all))
	}
}

// queueText renders queue rows, lease times included, for comparing.
func queueText(qs []kernel.QueuedAction) string {
	var out string
	for _, q := range qs {
		lease, lastErr := "-", "-"
		if q.LeaseUntil != nil {
			lease = q.LeaseUntil.UTC().Format(time.RFC3339Nano)
		}
		if q.LastError != nil {
			lastErr = *q.LastError
		}
		out += fmt.Sprintf("%d %s %s %s %d %s %d %s %s %s\n", q.ID, q.Action, q.Customer, q.Status, q.Attempts,
			q.DueAt.UTC().Format(time.RFC3339Nano), q.Priority, q.LeaseOwner, lease, lastErr)
	}
	return out
}

// sameAttempt compares attempts, their times by instant.
func sameAttempt(a, b jobs.Attempt) bool {
	ok := a.Started.Equal(b.Started)
	a.Started, b.Started = time.Time{}, time.Time{}
	return ok && a == b
}

func finish(t *testing.T, q jobs.Queue, f jobs.Finished) bool {
	t.Helper()
	ok, err := q.Finish(context.Background(), f)
	if err != nil {
		t.Fatalf("finish %d by %s: %v", f.ID, f.Owner, err)
	}
	return ok
}

func testQueueLapsedLease(t *testing.T, newStore func(t *testing.T) StateBackend) {
	e, q := newQueueEnv(t, newStore, 1)
	first := claim(t, q, "old", asOf, 1, "hook")
	if len(first) != 1 {
		t.Fatalf("first claim: %v", actionNames(first))
	}
	id := first[0].ID
	// The lease runs until asOf+1h: at that instant it still holds.
	if got := claim(t, q, "new", asOf.Add(time.Hour), 1, "hook"); len(got) != 0 {
		t.Fatalf("a claim at the end of the lease took %v", actionNames(got))
	}
	again := claim(t, e.another().(QueueStore), "new", asOf.Add(time.Hour+time.Second), 1, "hook")
	if len(again) != 1 || again[0].ID != id || again[0].Attempt != 2 {
		t.Fatalf("claim after the lease ran out: %+v, want action %d at attempt 2", again, id)
	}
	before := e.queue(kernel.ActionFilter{})
	att := jobs.Attempt{Started: asOf, Duration: time.Second, Status: 200}
	if finish(t, q, jobs.Finished{ID: id, Owner: "old", Status: jobs.ActionDone, Attempt: att}) {
		t.Fatal("the old owner finished an action another worker holds")
	}
	if after := e.queue(kernel.ActionFilter{}); queueText(after) != queueText(before) {
		t.Fatalf("a refused Finish changed the queue:\n%+v\nwas\n%+v", after, before)
	}
	if as, err := q.Attempts(context.Background(), id); err != nil || len(as) != 0 {
		t.Fatalf("attempts after a refused Finish: %+v, %v", as, err)
	}
	if !finish(t, q, jobs.Finished{ID: id, Owner: "new", Status: jobs.ActionDone, Attempt: att}) {
		t.Fatal("the lease holder could not finish")
	}
	if finish(t, q, jobs.Finished{ID: id, Owner: "new", Status: jobs.ActionDone, Attempt: att}) {
		t.Fatal("an action finished twice")
	}
	if as, _ := q.Attempts(context.Background(), id); len(as) != 1 || as[0].Number != 2 || as[0].Worker != "new" {
		t.Fatalf("attempts: %+v, want one, number 2 by new", as)
	}
}

func testQueueFinish(t *testing.T, newStore func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e, q := newQueueEnv(t, newStore, 3)
	ds := claim(t, q, "w", asOf, 3, "hook")
	if len(ds) != 3 {
		t.Fatalf("claim: %v", actionNames(ds))
	}
	started := asOf.Add(time.Minute)
	done, retry, dead := ds[0].ID, ds[1].ID, ds[2].ID
	if _, err := q.Finish(ctx, jobs.Finished{ID: done, Owner: "w", Status: "bogus"}); err == nil {
		t.Fatal("Finish accepted status bogus")
	}
	if !finish(t, q, jobs.Finished{ID: done, Owner: "w", Status: jobs.ActionDone,
		Attempt: jobs.Attempt{Started: started, Duration: 1500 * time.Microsecond, Status: 204, Response: "ok"}}) {
		t.Fatal("finish done")
	}
	later := asOf.Add(10 * time.Minute)
	if !finish(t, q, jobs.Finished{ID: retry, Owner: "w", Status: jobs.ActionPending, NextDue: later,
		Attempt: jobs.Attempt{Started: started, Duration: time.Second, Status: 503, Error: "503 Service Unavailable", Response: "busy"}}) {
		t.Fatal("finish retry")
	}
	if !finish(t, q, jobs.Finished{ID: dead, Owner: "w", Status: jobs.ActionDead,
		Attempt: jobs.Attempt{Started: started, Duration: 2 * time.Second, Error: "dial tcp: connection refused"}}) {
		t.Fatal("finish dead")
	}
	byID := map[int64]kernel.QueuedAction{}
	for _, a := range e.queue(kernel.ActionFilter{Action: "onboarding_message"}) {
		byID[a.ID] = a
	}
	if one := e.queue(kernel.ActionFilter{ID: done}); len(one) != 1 || one[0].ID != done {
		t.Fatalf("the queue filtered by id %d: %+v", done, one)
	}
	if a := byID[done]; a.Status != jobs.ActionDone || a.LeaseOwner != "" || a.LeaseUntil != nil || a.LastError != nil {
		t.Fatalf("done action: %+v", a)
	}
	if a := byID[retry]; a.Status != jobs.ActionPending || !a.DueAt.Equal(later) || a.LastError == nil || *a.LastError != "503 Service Unavailable" {
		t.Fatalf("action to retry: %+v", a)
	}
	if a := byID[dead]; a.Status != jobs.ActionDead || a.LastError == nil || *a.LastError != "dial tcp: connection refused" {
		t.Fatalf("dead action: %+v", a)
	}
	as, err := q.Attempts(ctx, done)
	want := jobs.Attempt{ActionID: done, Number: 1, Worker: "w", Started: started, Duration: 1500 * time.Microsecond, Status: 204, Response: "ok"}
	if err != nil || len(as) != 1 || !sameAttempt(as[0], want) {
		t.Fatalf("attempts of the done action: %+v, %v; want %+v", as, err, want)
	}
	if as, _ := q.Attempts(ctx, dead); len(as) != 1 || as[0].Status != 0 || as[0].Error != "dial tcp: connection refused" || as[0].Duration != 2*time.Second {
		t.Fatalf("attempts of the dead action: %+v", as)
	}
	// Not due before its retry time, then claimed at attempt 2.
	if got := claim(t, q, "w", later.Add(-time.Second), 10, "hook"); len(got) != 0 {
		t.Fatalf("claimed before the retry time: %v", actionNames(got))
	}
	// It carries when its first attempt started, which MaxAge counts from.
	if got := claim(t, q, "w", later, 10, "hook"); len(got) != 1 || got[0].ID != retry || got[0].Attempt != 2 || !got[0].FirstAttempt.Equal(started) {
		t.Fatalf("claim at the retry time: %+v, want attempt 2 whose first started at %v", got, started)
	}
	if !finish(t, q, jobs.Finished{ID: retry, Owner: "w", Status: jobs.ActionDone, Attempt: jobs.Attempt{Started: later, Status: 200}}) {
		t.Fatal("finish the retry")
	}
	if as, _ := q.Attempts(ctx, retry); len(as) != 2 || as[0].Number != 1 || as[1].Number != 2 || as[0].Status != 503 || as[1].Status != 200 {
		t.Fatalf("attempts of the retried action: %+v", as)
	}

	// By hand: retry the dead one, cancel a pending one.
	if err := q.RetryAction(ctx, done, day(1)); err == nil {
		t.Fatal("retried a done action")
	}
	if err := q.RetryAction(ctx, 1<<40, day(1)); !errors.Is(err, kernel.ErrNoAction) {
		t.Fatalf("retry of a missing action: %v", err)
	}
	byHand := asOf.Add(20 * time.Minute)
	if err := q.RetryAction(ctx, dead, byHand); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, q, "w", byHand, 10, "hook"); len(got) != 1 || got[0].ID != dead || got[0].Attempt != 2 || !got[0].DueAt.Equal(byHand) {
		t.Fatalf("claim after a retry by hand: %+v", got)
	}
	if err := q.CancelAction(ctx, dead); err != nil {
		t.Fatalf("cancel a claimed action: %v", err)
	}
	if finish(t, q, jobs.Finished{ID: dead, Owner: "w", Status: jobs.ActionDone, Attempt: jobs.Attempt{Started: day(1)}}) {
		t.Fatal("finished a cancelled action")
	}
	winback := e.queue(kernel.ActionFilter{Action: "winback_call"})[0].ID
	if err := q.CancelAction(ctx, winback); err != nil {
		t.Fatalf("cancel a pending action: %v", err)
	}
	if err := q.CancelAction(ctx, winback); err == nil {
		t.Fatal("cancelled an action twice")
	}
	for _, d := range claim(t, q, "w", day(9), 100, "hook") {
		if d.ID == winback || d.ID == dead {
			t.Fatalf("claimed cancelled action %d", d.ID)
		}
	}
	if n := len(e.queue(kernel.ActionFilter{Status: jobs.ActionCancelled})); n != 2 {
		t.Fatalf("%d cancelled actions, want 2", n)
	}
	if err := q.RetryAction(ctx, winback, day(9)); err != nil {
		t.Fatalf("retry a cancelled action: %v", err)
	}
	if got := e.queue(kernel.ActionFilter{Status: jobs.ActionPending, Destination: "hook"}); len(got) != 1 || got[0].ID != winback || !got[0].DueAt.Equal(day(9)) {
		t.Fatalf("pending after retrying the cancelled action: %+v", got)
	}
}

// Four workers, each on its own store (as separate processes), claim and
// finish 200 actions; each action's first attempt asks for a retry at
// once. Every action ends done after exactly two attempts, and no claim
// hands out an action another worker still holds.
func testQueueRace(t *testing.T, newStore func(t *testing.T) StateBackend) {
	const customers, workers = 100, 4 // two hook actions each
	e, _ := newQueueEnv(t, newStore, customers)
	now := day(5)
	var mu sync.Mutex
	holder := map[int64]string{}
	finished := map[int64]int{}
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		q := e.another().(QueueStore)
		owner := fmt.Sprintf("worker%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- work(q, owner, now, &mu, holder, finished)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		return
	}
	acts := e.queue(kernel.ActionFilter{Destination: "hook"})
	if len(acts) != 2*customers {
		t.Fatalf("%d hook actions, want %d", len(acts), 2*customers)
	}
	q := e.s.(QueueStore)
	for _, a := range acts {
		if a.Status != jobs.ActionDone || a.Attempts != 2 || finished[a.ID] != 1 {
			t.Fatalf("action %d: status %s after %d attempts, done %d times", a.ID, a.Status, a.Attempts, finished[a.ID])
		}
		as, err := q.Attempts(context.Background(), a.ID)
		if err != nil || len(as) != 2 || as[0].Number != 1 || as[1].Number != 2 {
			t.Fatalf("attempts of action %d: %+v, %v", a.ID, as, err)
		}
	}
}

// work claims and finishes actions until none is left: the first attempt
// of each is retried at once, the second is done.
func work(q QueueStore, owner string, now time.Time, mu *sync.Mutex, holder map[int64]string, finished map[int64]int) error {
	ctx := context.Background()
	for {
		ds, err := q.Claim(ctx, jobs.ClaimRequest{Owner: owner, Now: now, LeaseUntil: now.Add(time.Hour), Limit: 7, Destinations: []string{"hook"}})
		if err != nil {
			return fmt.Errorf("%s: claim: %w", owner, err)
		}
		if len(ds) == 0 {
			return nil
		}
		mu.Lock()
		for _, d := range ds {
			if h, ok := holder[d.ID]; ok {
				mu.Unlock()
				return fmt.Errorf("%s claimed action %d while %s held it", owner, d.ID, h)
			}
			holder[d.ID] = owner
		}
		mu.Unlock()
		for _, d := range ds {
			f := jobs.Finished{ID: d.ID, Owner: owner, Status: jobs.ActionDone, Attempt: jobs.Attempt{Started: now, Status: 200}}
			if d.Attempt == 1 {
				f.Status, f.NextDue, f.Attempt.Status, f.Attempt.Error = jobs.ActionPending, now, 500, "500"
			}
			// Release before Finish: once Finish commits another worker
			// may claim it; before, the lease keeps everyone out.
			mu.Lock()
			delete(holder, d.ID)
			if f.Status == jobs.ActionDone {
				finished[d.ID]++
			}
			mu.Unlock()
			ok, err := q.Finish(ctx, f)
			if err != nil || !ok {
				return fmt.Errorf("%s: finish %d: %v, %v", owner, d.ID, ok, err)
			}
		}
	}
}
