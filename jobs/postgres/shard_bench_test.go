package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
)

// BenchmarkApplyRetailSharded is BenchmarkApplyRetail's night applied as
// one process (shards=1: an unsharded jobs.Apply) and split into 2 and 4
// shards applied at once, each on its own store (its own connections, as
// separate processes have; they share this process's cores, as processes
// on one machine share its cores). ns/op is the whole run, from the first
// shard's start to the last one's commit; x-sql its ratio to the SQL
// baseline of the same iteration. The checks are BenchmarkApplyRetail's,
// over the shards' runs together, and every parent run must have
// succeeded.
//
//	TIERFLOW_BENCH_CUSTOMERS=1000000 go test -run '^$' -bench ApplyRetailSharded -benchtime 3x -timeout 0 -v ./jobs/postgres/
func BenchmarkApplyRetailSharded(b *testing.B) {
	ctx := context.Background()
	ab := setupApplyBench(ctx, b)
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("shards=%d/customers=%d", n, ab.n), func(b *testing.B) {
			stores := make([]*postgres.Store, n)
			for i := range stores {
				s, err := postgres.Open(ctx, postgres.Config{URL: ab.url})
				must(b, err)
				defer s.Close()
				stores[i] = s
			}
			var sqlTime, applyTime time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				resetBenchState(b, ab.s, ab.baseRun)
				sqlTime += timeSQLBaseline(b, ab.s, ab.rs)
				start := time.Now()
				b.StartTimer()
				outs := applyBenchShards(ctx, b, ab, stores)
				b.StopTimer()
				applyTime += time.Since(start)
				checkShardsOutcome(b, ab, outs)
			}
			b.ReportMetric(float64(sqlTime.Nanoseconds())/float64(b.N), "sql-ns/op")
			b.ReportMetric(float64(applyTime)/float64(sqlTime), "x-sql")
			b.ReportMetric(float64(ab.n)/(applyTime.Seconds()/float64(b.N)), "customers/s")
		})
	}
}

// applyBenchShards applies the night as len(stores) shards at once (one:
// unsharded) and returns their outcomes.
func applyBenchShards(ctx context.Context, b *testing.B, ab *applyBench, stores []*postgres.Store) []*jobs.Outcome {
	outs, errs := make([]*jobs.Outcome, len(stores)), make([]error, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard}
			if len(stores) > 1 {
				o.Shard = jobs.Shard{Index: i, Count: len(stores)}
			}
			outs[i], errs[i] = jobs.Apply(ctx, s, facts(s), ab.rs, o)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			b.Fatalf("shard %d/%d: %v", i, len(stores), err)
		}
	}
	return outs
}

// checkShardsOutcome is checkSameOutcome over the runs of every shard:
// together they changed the assignment rows the SQL baseline did, the
// same way, with a move in history for each, and their parent succeeded.
func checkShardsOutcome(b *testing.B, ab *applyBench, outs []*jobs.Outcome) {
	b.Helper()
	var ids pq.Int64Array
	changed := 0
	for _, o := range outs {
		ids = append(ids, o.RunID)
		changed += o.Report.Changed
		if o.Report.ActionsTotal != 0 || o.Report.Errors.Customers != 0 {
			b.Fatalf("a shard queued %d actions and had %d errors", o.Report.ActionsTotal, o.Report.Errors.Customers)
		}
	}
	if differ := count(b, ab.s, `SELECT count(*)
        FROM (SELECT * FROM tierflow.assignments WHERE run_id = ANY($1)) AS t
        FULL JOIN (SELECT * FROM bench_sql WHERE run_id = $2) AS q USING (ruleset, segmentation, customer_key)
        WHERE (t.segment, t.since, t.pending_since) IS DISTINCT FROM (q.segment, q.since, q.pending_since)`, ids, sqlRunID); differ != 0 {
		b.Fatalf("the shards and the SQL baseline disagree on %d assignment rows", differ)
	}
	if moves, want := count(b, ab.s, `SELECT count(*) FROM tierflow.history WHERE run_id = ANY($1)`, ids),
		count(b, ab.s, `SELECT count(*) FROM bench_sql WHERE run_id = $1`, sqlRunID); moves != want {
		b.Fatalf("the shards recorded %d moves, the SQL baseline changed %d rows", moves, want)
	}
	if lo, hi := float64(ab.n)*ab.movePct*0.8/100, float64(ab.n)*ab.movePct*1.2/100; float64(changed) < lo || float64(changed) > hi {
		b.Fatalf("the shards changed %d customers, want about %g%% of %d", changed, ab.movePct, ab.n)
	}
	if len(outs) > 1 {
		if open := count(b, ab.s, `SELECT count(*) FROM tierflow.runs WHERE kind = 'sharded' AND status <> 'succeeded'`); open != 0 {
			b.Fatalf("%d parent runs did not succeed", open)
		}
	}
}
