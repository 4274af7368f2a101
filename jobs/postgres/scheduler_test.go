package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

// scheduled returns the retail rule set with an hourly UTC schedule.
func scheduled(t *testing.T) *rules.RuleSet {
	rs := *retail(t)
	rs.Schedule = &rules.Schedule{Cron: "0 * * * *", Timezone: "UTC"}
	return &rs
}

func newScheduler(t *testing.T, s *postgres.Store, rs *rules.RuleSet, owner string, now time.Time, deadline time.Duration) *jobs.Scheduler {
	t.Helper()
	sch := &jobs.Scheduler{
		State: s, Facts: facts(s), Slots: s, Owner: owner, StartingDeadline: deadline,
		Now:    func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if err := sch.Set(rs, jobs.Options{Guard: jobs.DefaultGuard, Workers: 2, BatchSize: 100}); err != nil {
		t.Fatal(err)
	}
	return sch
}

func slotStatuses(t *testing.T, s *postgres.Store) map[string]int {
	t.Helper()
	rows, err := s.DB().Query(`SELECT status, count(*) FROM tierflow.slots GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			t.Fatal(err)
		}
		out[st] = n
	}
	return out
}

func TestSchedulerReplicasRaceForOneSlot(t *testing.T) {
	t.Parallel()
	s := newStore(t, 500)
	rs := scheduled(t)
	now := asOf.Add(time.Minute) // the 00:00 slot is due
	a := newScheduler(t, s, rs, "replica-a", now, time.Hour)
	b := newScheduler(t, s, rs, "replica-b", now, time.Hour)
	var wg sync.WaitGroup
	for _, sch := range []*jobs.Scheduler{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sch.Tick(context.Background(), rs.Name)
		}()
	}
	wg.Wait()
	if got := count(t, s, `SELECT count(*) FROM tierflow.runs WHERE status = 'succeeded'`); got != 1 {
		t.Fatalf("succeeded runs = %d, want exactly 1", got)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.runs WHERE status = 'skipped'`); got != 1 {
		t.Fatalf("skipped runs = %d, want 1 for the losing replica", got)
	}
	if st := slotStatuses(t, s); st["succeeded"] != 1 || len(st) != 1 {
		t.Fatalf("slots = %v, want one succeeded", st)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.runs WHERE status = 'succeeded' AND as_of = $1 AND slot = $1`, asOf); got != 1 {
		t.Fatalf("the run's as-of and slot should be the slot time")
	}
}

func TestSchedulerMissedSlots(t *testing.T) {
	t.Parallel()
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
			s := newStore(t, 300)
			rs := scheduled(t)
			if c, err := s.ClaimSlot(ctx, rs.Name, t0, jobs.Lease{Owner: "earlier", Now: t0, Until: t0.Add(time.Minute)}); err != nil || !c.Won {
				t.Fatalf("claim: %+v %v", c, err)
			}
			if err := s.FinishSlot(ctx, rs.Name, t0, jobs.StatusSucceeded, 0); err != nil {
				t.Fatal(err)
			}
			sch := newScheduler(t, s, rs, "replica", late, tt.deadline)
			sch.Tick(ctx, rs.Name)
			st := slotStatuses(t, s)
			if st["missed"] != tt.missed {
				t.Fatalf("missed slots = %d, want %d (%v)", st["missed"], tt.missed, st)
			}
			if got := count(t, s, `SELECT count(*) FROM tierflow.runs WHERE status = 'missed'`); got != tt.missed {
				t.Fatalf("missed runs recorded = %d, want %d", got, tt.missed)
			}
			ran := count(t, s, `SELECT count(*) FROM tierflow.runs WHERE status = 'succeeded'`)
			if (ran == 1) != tt.ran {
				t.Fatalf("succeeded runs = %d, want ran=%v", ran, tt.ran)
			}
			// A second tick at the same time finds nothing new to do.
			sch.Tick(ctx, rs.Name)
			if again := slotStatuses(t, s); again["missed"] != tt.missed || count(t, s, `SELECT count(*) FROM tierflow.runs WHERE status = 'succeeded'`) != ran {
				t.Fatalf("second tick changed slots: %v", again)
			}
		})
	}
}

func TestSchedulerFirstStartDoesNotBackfill(t *testing.T) {
	t.Parallel()
	s := newStore(t, 200)
	rs := scheduled(t)
	sch := newScheduler(t, s, rs, "replica", asOf.Add(50*time.Minute), 10*time.Minute)
	sch.Tick(context.Background(), rs.Name)
	if st := slotStatuses(t, s); len(st) != 0 {
		t.Fatalf("a first start past the deadline should neither run nor record missed slots, got %v", st)
	}
}

// cancelOnClaim is the real store, except that it cancels the run's
// context once the slot is claimed: SIGTERM arriving mid-run.
type cancelOnClaim struct {
	*postgres.Store
	cancel context.CancelFunc
}

func (c cancelOnClaim) ClaimSlot(ctx context.Context, ruleset string, slot time.Time, lease jobs.Lease) (jobs.Claim, error) {
	claim, err := c.Store.ClaimSlot(ctx, ruleset, slot, lease)
	c.cancel()
	return claim, err
}

func TestSchedulerShutdownReleasesSlot(t *testing.T) {
	t.Parallel()
	s := newStore(t, 200)
	rs := scheduled(t)
	ctx, cancel := context.WithCancel(context.Background())
	sch := newScheduler(t, s, rs, "replica", asOf.Add(time.Minute), time.Hour)
	sch.Slots = cancelOnClaim{Store: s, cancel: cancel}
	if status, err := sch.RunSlot(ctx, rs.Name, asOf); err == nil || status != jobs.StatusCancelled {
		t.Fatalf("a cancelled run: %v %v, want cancelled", status, err)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.assignments`); got != 0 {
		t.Fatalf("a cancelled run wrote %d assignments", got)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.slots WHERE status = 'claimed' AND lease_until <= $1`, asOf.Add(time.Minute)); got != 1 {
		t.Fatalf("the cancelled slot should be released (its lease ended) for the next start, got %v", slotStatuses(t, s))
	}
	// The next start runs it.
	next := newScheduler(t, s, rs, "replica", asOf.Add(2*time.Minute), time.Hour)
	next.Tick(context.Background(), rs.Name)
	if st := slotStatuses(t, s); st["succeeded"] != 1 {
		t.Fatalf("after restart the slot should run: %v", st)
	}
}
