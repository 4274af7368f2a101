package kernel_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/memstore"
	"github.com/tierflow/tierflow/jobs/sqlite"
	"github.com/tierflow/tierflow/rules"
)

// statsRules queues welcome to hook for every vip and note to crm for
// every other customer, due at the as-of.
const statsRules = `ruleset: shop
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend >= 1000
      - name: small
        fallback: true
actions:
  - name: welcome
    when: entered("tier", "vip")
    deliver_to: hook
  - name: note
    when: entered("tier", "small")
    deliver_to: crm
`

// queueStatser is a store with queue statistics.
type queueStatser interface {
	jobs.StateStore
	jobs.Queue
	QueueStats(ctx context.Context, now time.Time) (map[string]kernel.QueueStat, error)
}

// QueueStats counts pending, claimed and dead actions per destination,
// and the oldest due time among those pending and due, the same on
// every store.
func TestQueueStats(t *testing.T) {
	t.Parallel()
	stores := []struct {
		name string
		open func(t *testing.T) queueStatser
	}{
		{"memstore", func(*testing.T) queueStatser { return memstore.New() }},
		{"sqlite", func(t *testing.T) queueStatser {
			s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "state.db")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if _, err := s.Migrate(context.Background(), false); err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testQueueStats(t, st.open(t))
		})
	}
}

func testQueueStats(t *testing.T, s queueStatser) {
	ctx := context.Background()
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	stats := func(now time.Time) map[string]kernel.QueueStat {
		t.Helper()
		got, err := s.QueueStats(ctx, now)
		if err != nil {
			t.Fatalf("QueueStats: %v", err)
		}
		return got
	}
	if got := stats(asOf); len(got) != 0 {
		t.Fatalf("an empty queue has stats %v", got)
	}

	dir := t.TempDir()
	csv := filepath.Join(dir, "facts.csv")
	if err := os.WriteFile(csv, []byte("customer_id,spend\n1,1500\n2,2000\n3,3000\n4,10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := factsfile.Open(csv, "")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Compile("shop.yaml", []byte(statsRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Apply(ctx, s, src, rs, jobs.Options{AsOf: asOf, InitialActions: true, Now: func() time.Time { return asOf }}); err != nil {
		t.Fatalf("apply: %v", err)
	}

	want := map[string]kernel.QueueStat{"hook": {Pending: 3, OldestDue: asOf}, "crm": {Pending: 1, OldestDue: asOf}}
	assertStats(t, "after the apply", stats(asOf.Add(time.Hour)), want)
	// Nothing is due before the as-of: the counts stay, the oldest due is zero.
	assertStats(t, "before the as-of", stats(asOf.Add(-time.Hour)),
		map[string]kernel.QueueStat{"hook": {Pending: 3}, "crm": {Pending: 1}})

	now := asOf.Add(time.Hour)
	ds, err := s.Claim(ctx, jobs.ClaimRequest{Owner: "w", Now: now, LeaseUntil: now.Add(time.Hour), Limit: 2, Destinations: []string{"hook"}})
	if err != nil || len(ds) != 2 {
		t.Fatalf("claim = %d, %v; want 2", len(ds), err)
	}
	if ok, err := s.Finish(ctx, jobs.Finished{ID: ds[0].ID, Owner: "w", Status: jobs.ActionDead,
		Attempt: jobs.Attempt{Started: now, Error: "gone"}}); !ok || err != nil {
		t.Fatalf("finish = %v, %v", ok, err)
	}
	want["hook"] = kernel.QueueStat{Pending: 1, Claimed: 1, Dead: 1, OldestDue: asOf}
	assertStats(t, "after a claim and a dead delivery", stats(now), want)
}

func assertStats(t *testing.T, when string, got, want map[string]kernel.QueueStat) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: stats %v, want %v", when, got, want)
	}
	for dest, w := range want {
		g := got[dest]
		if g.Pending != w.Pending || g.Claimed != w.Claimed || g.Dead != w.Dead || !g.OldestDue.Equal(w.OldestDue) {
			t.Errorf("%s: %s = %+v, want %+v", when, dest, g, w)
		}
	}
}
