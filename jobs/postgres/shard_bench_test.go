package postgres_test

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/internal/gctune"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
)

// BenchmarkApplyRetailSharded is BenchmarkApplyRetail's night applied as
// one process (shards=1: an unsharded jobs.Apply) and split into 2 and 4
// shards applied at once, each in a process of its own on this machine
// (applyBenchShards); shards=N/alone times shard 0 of N alone, as on a
// machine of its own. ns/op is the whole run, from the first
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
			var sqlTime, applyTime time.Duration
			for i := 0; i < b.N; i++ {
				base, start := ab.nextIteration(b)
				sqlTime += base
				outs := applyBenchShards(ctx, b, ab, n)
				b.StopTimer()
				applyTime += time.Since(start)
				checkShardsOutcome(b, ab, outs)
			}
			b.ReportMetric(float64(sqlTime.Nanoseconds())/float64(b.N), "sql-ns/op")
			b.ReportMetric(float64(applyTime)/float64(sqlTime), "x-sql")
			b.ReportMetric(float64(ab.n)/(applyTime.Seconds()/float64(b.N)), "customers/s")
		})
	}
	// One shard alone, as on a machine of its own: what each of N
	// machines would take, the database permitting. Last: its parent
	// stays open.
	for _, n := range []int{2, 4} {
		b.Run(fmt.Sprintf("shards=%d/alone/customers=%d", n, ab.n), func(b *testing.B) {
			var sqlTime, applyTime time.Duration
			for i := 0; i < b.N; i++ {
				base, start := ab.nextIteration(b)
				sqlTime += base
				out, err := jobs.Apply(ctx, ab.s, facts(ab.s), ab.rs, jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard, Shard: jobs.Shard{Index: 0, Count: n}})
				b.StopTimer()
				applyTime += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				checkAloneOutcome(b, ab, out, n)
			}
			b.ReportMetric(float64(sqlTime.Nanoseconds())/float64(b.N), "sql-ns/op")
			b.ReportMetric(float64(applyTime)/float64(sqlTime), "x-sql")
		})
	}
}

// checkAloneOutcome checks the run of shard 0 of n against the SQL
// baseline's changes to that shard's customers.
func checkAloneOutcome(b *testing.B, ab *applyBench, out *jobs.Outcome, n int) {
	b.Helper()
	inShard := fmt.Sprintf("abs((('x' || substr(md5(customer_key), 1, 8))::bit(32)::bigint %% %d) - 0) < 1", n)
	if differ := count(b, ab.s, `SELECT count(*)
        FROM (SELECT * FROM tierflow.assignments WHERE run_id = $1) AS t
        FULL JOIN (SELECT * FROM bench_sql WHERE run_id = $2 AND `+inShard+`) AS q USING (ruleset, segmentation, customer_key)
        WHERE (t.segment, t.since, t.pending_since) IS DISTINCT FROM (q.segment, q.since, q.pending_since)`, out.RunID, sqlRunID); differ != 0 {
		b.Fatalf("shard 0/%d and the SQL baseline disagree on %d assignment rows of its customers", n, differ)
	}
	if c := out.Report.Customers; c < ab.n/n*9/10 || c > ab.n/n*11/10 {
		b.Fatalf("shard 0/%d evaluated %d of %d customers", n, c, ab.n)
	}
}

// applyBenchShards applies the night as n shards at once, each in a
// process of its own (TestShardBenchProcess: the test binary run again),
// as a machine per shard would, with its own heap and memory limit; n = 1
// is an unsharded apply in this process. It returns the
// outcomes, read back from the runs table for the shards.
func applyBenchShards(ctx context.Context, b *testing.B, ab *applyBench, n int) []*jobs.Outcome {
	if n == 1 {
		out, err := jobs.Apply(ctx, ab.s, facts(ab.s), ab.rs, jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard})
		if err != nil {
			b.Fatal(err)
		}
		return []*jobs.Outcome{out}
	}
	cmds, logs := make([]*osexec.Cmd, n), make([]*strings.Builder, n)
	for i := range cmds {
		cmd := osexec.Command(os.Args[0], "-test.run=^TestShardBenchProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), shardProcessEnv+"="+fmt.Sprintf("%d/%d", i, n), shardURLEnv+"="+ab.url)
		logs[i] = new(strings.Builder)
		cmd.Stdout, cmd.Stderr = logs[i], logs[i]
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			b.Errorf("shard %d/%d: %v\n%s", i, n, err, logs[i])
		}
	}
	if b.Failed() {
		b.FailNow()
	}
	var rows []struct {
		ID        int64 `db:"id"`
		Customers int   `db:"customers"`
		Changed   int   `db:"changed"`
		Actions   int   `db:"actions"`
		Errors    int   `db:"errors"`
	}
	if err := ab.s.DB().Select(&rows, `SELECT id, customers, changed, actions, errors FROM tierflow.runs
		WHERE parent_id = (SELECT max(id) FROM tierflow.runs WHERE kind = 'sharded') AND status = 'succeeded'`); err != nil {
		b.Fatal(err)
	}
	if len(rows) != n {
		b.Fatalf("%d shard runs succeeded, want %d", len(rows), n)
	}
	outs := make([]*jobs.Outcome, len(rows))
	for i, r := range rows {
		outs[i] = &jobs.Outcome{RunID: r.ID, Report: &jobs.PlanReport{Customers: r.Customers, Changed: r.Changed, ActionsTotal: r.Actions}}
		outs[i].Report.Errors.Customers = r.Errors
	}
	return outs
}

// The environment of a shard process of BenchmarkApplyRetailSharded: its
// shard and the benchmark's database.
const (
	shardProcessEnv = "TIERFLOW_BENCH_SHARD"
	shardURLEnv     = "TIERFLOW_BENCH_SHARD_URL"
)

// TestShardBenchProcess is one shard process of BenchmarkApplyRetailSharded;
// it does nothing unless that benchmark started it.
func TestShardBenchProcess(t *testing.T) {
	spec := os.Getenv(shardProcessEnv)
	if spec == "" {
		t.Skip("a shard process of BenchmarkApplyRetailSharded")
	}
	sh, err := jobs.ParseShard(spec)
	if err != nil {
		t.Fatal(err)
	}
	gctune.Set(os.Getenv) // as cmd/tierflow runs
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Config{URL: os.Getenv(shardURLEnv)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := jobs.Apply(ctx, s, facts(s), retail(t), jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard, Shard: sh}); err != nil {
		t.Fatal(err)
	}
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
