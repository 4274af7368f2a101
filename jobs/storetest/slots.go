package storetest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

var slotCases = []testCase{
	{"slots: claimed once, finished, released, missed", testSlots},
	{"scheduler: replicas race for one slot", testSchedulerRace},
	{"scheduler: missed slots", testSchedulerMissed},
	{"scheduler: first start does not backfill", testSchedulerNoBackfill},
	{"scheduler: shutdown releases the slot", testSchedulerShutdown},
	{"migrate: 0004 keeps runs and slots, leases old claims, allows cancelled", testMigrateSlotLeases},
}

func (e *env) slotStatuses() map[string]int {
	e.t.Helper()
	rows, err := e.s.DB().Query(e.sql(`SELECT status, count(*) FROM {slots} GROUP BY status`))
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			e.t.Fatal(err)
		}
		out[st] = n
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// A slot is claimed by exactly one of many replicas racing for it (each
// with its own connection pool) and holds its lease in the table; it
// records its outcome, and is the latest slot; a finished slot is not
// released; a released claim stays, its lease ended, for another replica
// to take over; missed slots are recorded once each, with a run record,
// and never overwrite a run or a live claim.
func testSlots(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 0)
	if _, found, err := e.s.LastSlot(ctx, retailName); err != nil || found {
		t.Fatalf("LastSlot with no slots: found=%v, %v", found, err)
	}
	slot, now := asOf.Add(time.Hour), asOf.Add(time.Hour+time.Second)
	stores := []Store{e.s, e.open(), e.open(), e.open()}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				c, err := s.ClaimSlot(ctx, retailName, slot, leaseAt("replica-"+string(rune('a'+i)), now))
				if err != nil {
					t.Errorf("claim: %v", err)
				}
				if c.Won {
					wins.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d claims of one slot won, want 1", wins.Load())
	}
	if c, err := e.s.ClaimSlot(ctx, copyName, slot, leaseAt("x", now)); err != nil || !c.Won {
		t.Fatalf("claiming the same time for another rule set: %+v %v", c, err)
	}
	last, found, err := e.s.LastSlot(ctx, retailName)
	if err != nil || !found || !last.Equal(slot) {
		t.Fatalf("LastSlot = %s %v %v, want %s", last, found, err, slot)
	}
	var n int
	e.scan(`SELECT count(*) FROM {slots} WHERE ruleset = 'retail' AND status = 'claimed' AND lease_until > claimed_at`, nil, &n)
	if n != 1 {
		t.Fatalf("the claim holds no lease in the table")
	}

	if err := e.s.FinishSlot(ctx, retailName, slot, jobs.StatusSucceeded, 7); err != nil {
		t.Fatal(err)
	}
	holder := ""
	e.scan(`SELECT owner FROM {slots} WHERE ruleset = 'retail'`, nil, &holder)
	if err := e.s.ReleaseSlot(ctx, retailName, slot, holder, now); err != nil {
		t.Fatal(err)
	}
	var status string
	var run int64
	e.scan(`SELECT status, run_id FROM {slots} WHERE ruleset = 'retail'`, nil, &status, &run)
	if status != "succeeded" || run != 7 {
		t.Fatalf("finished slot: %s run %d; a finished slot must not be released", status, run)
	}

	later := slot.Add(time.Hour)
	if c, err := e.s.ClaimSlot(ctx, retailName, later, leaseAt("a", later)); err != nil || !c.Won {
		t.Fatalf("claim: %+v %v", c, err)
	}
	if err := e.s.ReleaseSlot(ctx, retailName, later, "a", later.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if last, _, _ := e.s.LastSlot(ctx, retailName); !last.Equal(later) {
		t.Fatalf("after releasing %s the last slot is %s; a released claim stays recorded", later, last)
	}
	if c, err := e.s.ClaimSlot(ctx, retailName, later, leaseAt("b", later.Add(time.Second))); err != nil || c != (jobs.Claim{Won: true, From: "a"}) {
		t.Fatalf("taking over a released slot: %+v %v", c, err)
	}

	missed := []time.Time{slot, later, later.Add(time.Hour), later.Add(2 * time.Hour)}
	for i := range 2 {
		got, err := e.s.MarkMissed(ctx, retailName, missed, later.Add(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{2, 0}[i]; got != want {
			t.Fatalf("MarkMissed call %d recorded %d slots, want %d", i+1, got, want)
		}
	}
	if st := e.slotStatuses(); st["missed"] != 2 || st["succeeded"] != 1 || st["claimed"] != 2 {
		t.Fatalf("slots %v, want 2 missed (one of the four was run, one is held), 1 succeeded, 2 claimed", st)
	}
	runs, err := e.s.Runs(ctx, retailName, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("missed slots left %d run records, want 2", len(runs))
	}
	for _, r := range runs {
		if r.Status != "missed" || r.Kind != "scheduled" || r.Slot == nil || !r.Slot.Equal(r.AsOf) || r.Error == nil {
			t.Fatalf("run record of a missed slot: %+v", r)
		}
		if !r.Started.Equal(later.Add(30 * time.Second)) {
			t.Fatalf("a missed slot's run record is stamped %s, not with the caller's clock", r.Started)
		}
	}
	if last, _, _ := e.s.LastSlot(ctx, retailName); !last.Equal(later.Add(2 * time.Hour)) {
		t.Fatalf("LastSlot = %s after missed slots, want %s", last, later.Add(2*time.Hour))
	}
}

func newScheduler(t *testing.T, s Store, rs *rules.RuleSet, owner string, now time.Time, deadline time.Duration) *jobs.Scheduler {
	t.Helper()
	sch := &jobs.Scheduler{
		State: s, Facts: factsOf(s), Slots: s, Owner: owner, StartingDeadline: deadline,
		Now:    func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if err := sch.Set(rs, jobs.Options{Guard: jobs.DefaultGuard, Workers: 2, BatchSize: 100}); err != nil {
		t.Fatal(err)
	}
	return sch
}

// Two replicas (each with its own connection pool) tick at once: the
// slot runs once, the loser records a skipped run, and the run's as-of
// and slot are the slot's time.
func testSchedulerRace(t *testing.T, nb func(t *testing.T) Backend) {
	e := newEnv(t, nb, 300)
	rs := scheduled(t)
	now := asOf.Add(time.Minute) // the 00:00 slot is due
	a := newScheduler(t, e.s, rs, "replica-a", now, time.Hour)
	b := newScheduler(t, e.open(), rs, "replica-b", now, time.Hour)
	var wg sync.WaitGroup
	for _, sch := range []*jobs.Scheduler{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sch.Tick(context.Background(), rs.Name)
		}()
	}
	wg.Wait()
	if got := e.runStatuses(); got["succeeded"] != 1 || got["skipped"] != 1 || len(got) != 2 {
		t.Fatalf("run statuses %v, want one succeeded and one skipped", got)
	}
	if st := e.slotStatuses(); st["succeeded"] != 1 || len(st) != 1 {
		t.Fatalf("slots = %v, want one succeeded", st)
	}
	runs, err := e.s.Runs(context.Background(), rs.Name, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Kind != "scheduled" || !r.AsOf.Equal(asOf) || r.Slot == nil || !r.Slot.Equal(asOf) {
			t.Fatalf("scheduled run %+v: want kind scheduled, as-of and slot %s", r, asOf)
		}
	}
	var slotRun int64
	e.scan(`SELECT run_id FROM {slots}`, nil, &slotRun)
	if status, _ := e.run(slotRun); status != "succeeded" {
		t.Fatalf("the slot names run %d, which is %q", slotRun, status)
	}
}

func testSchedulerMissed(t *testing.T, nb func(t *testing.T) Backend) {
	t0 := asOf
	late := t0.Add(3*time.Hour + 10*time.Minute) // slots 01:00 and 02:00 missed, 03:00 is 10 minutes late
	tests := []struct {
		name     string
		deadline time.Duration
		missed   int
		ran      bool
	}{
		{"latest slot within the deadline runs once, older ones are missed", 30 * time.Minute, 2, true},
		{"latest slot past the deadline is missed too", 5 * time.Minute, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, nb, 300)
			rs := scheduled(t)
			if c, err := e.s.ClaimSlot(ctx, rs.Name, t0, leaseAt("earlier", t0)); err != nil || !c.Won {
				t.Fatalf("claim: %+v %v", c, err)
			}
			if err := e.s.FinishSlot(ctx, rs.Name, t0, jobs.StatusSucceeded, 0); err != nil {
				t.Fatal(err)
			}
			sch := newScheduler(t, e.s, rs, "replica", late, tt.deadline)
			sch.Tick(ctx, rs.Name)
			st := e.slotStatuses()
			if st["missed"] != tt.missed {
				t.Fatalf("missed slots = %d, want %d (%v)", st["missed"], tt.missed, st)
			}
			runs := e.runStatuses()
			if runs["missed"] != tt.missed || (runs["succeeded"] == 1) != tt.ran {
				t.Fatalf("run statuses %v, want %d missed and ran=%v", runs, tt.missed, tt.ran)
			}
			// A second tick at the same time finds nothing new to do.
			sch.Tick(ctx, rs.Name)
			if again := e.slotStatuses(); again["missed"] != tt.missed || e.runStatuses()["succeeded"] != runs["succeeded"] {
				t.Fatalf("second tick changed slots: %v", again)
			}
		})
	}
}

func testSchedulerNoBackfill(t *testing.T, nb func(t *testing.T) Backend) {
	e := newEnv(t, nb, 200)
	rs := scheduled(t)
	sch := newScheduler(t, e.s, rs, "replica", asOf.Add(50*time.Minute), 10*time.Minute)
	sch.Tick(context.Background(), rs.Name)
	if st := e.slotStatuses(); len(st) != 0 {
		t.Fatalf("a first start past the deadline should neither run nor record missed slots, got %v", st)
	}
}

// cancelOnClaim is a store that cancels the run's context once the slot
// is claimed: SIGTERM arriving as the run starts.
type cancelOnClaim struct {
	Store
	cancel context.CancelFunc
}

func (c cancelOnClaim) ClaimSlot(ctx context.Context, ruleset string, slot time.Time, lease jobs.Lease) (jobs.Claim, error) {
	claim, err := c.Store.ClaimSlot(ctx, ruleset, slot, lease)
	c.cancel()
	return claim, err
}

// A run cancelled by shutdown writes nothing and releases its slot: the
// claim stays with its lease ended, and the next start (or another
// replica) runs it.
func testSchedulerShutdown(t *testing.T, nb func(t *testing.T) Backend) {
	e := newEnv(t, nb, 200)
	rs := scheduled(t)
	ctx, cancel := context.WithCancel(context.Background())
	sch := newScheduler(t, e.s, rs, "replica", asOf.Add(time.Minute), time.Hour)
	sch.Slots = cancelOnClaim{Store: e.s, cancel: cancel}
	if status, err := sch.RunSlot(ctx, rs.Name, asOf); err == nil || status != jobs.StatusCancelled {
		t.Fatalf("a cancelled run: %v %v, want cancelled", status, err)
	}
	if got := e.count(`SELECT count(*) FROM {assignments}`); got != 0 {
		t.Fatalf("a cancelled run wrote %d assignments", got)
	}
	if open, err := e.s.OpenSlots(context.Background(), rs.Name); err != nil || len(open) != 1 || !open[0].Lapsed(asOf.Add(time.Minute)) {
		t.Fatalf("the cancelled slot should be released (its lease ended): %+v, %v", open, err)
	}
	next := newScheduler(t, e.s, rs, "replica", asOf.Add(2*time.Minute), time.Hour)
	next.Tick(context.Background(), rs.Name)
	if st := e.slotStatuses(); st["succeeded"] != 1 || len(st) != 1 {
		t.Fatalf("after restart the slot should run: %v", st)
	}
	if got := e.runStatuses(); got["missed"] != 0 || got["succeeded"] != 1 {
		t.Fatalf("runs %v: the released slot must run, not be missed", got)
	}
}
