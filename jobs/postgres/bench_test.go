package postgres_test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/gctune"
	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/storetest"
	"github.com/tierflow/tierflow/rules"
	"github.com/tierflow/tierflow/rules/sqlexpr"
)

// Environment variables that configure the apply benchmarks: the number
// of customers, and a file to write a CPU profile of the timed applies to
// (go test's -cpuprofile would include the setup).
const (
	benchCustomersEnv = "TIERFLOW_BENCH_CUSTOMERS"
	benchProfileEnv   = "TIERFLOW_BENCH_CPUPROFILE"
)

// changeFactsSQL is the change of facts every iteration reclassifies.
const changeFactsSQL = `UPDATE customer_facts SET spend_12m = spend_12m * 10 WHERE customer_id % 12 = 0`

// sqlRunID marks the rows the hand-written SQL baseline updates, so they
// can be put back.
const sqlRunID = -1

// BenchmarkApplyRetail times one whole tierflow apply of the retail
// example against PostgreSQL, where about 5% of customers change segment,
// beside a hand-written SQL UPDATE that does the same reclassification on
// the same data. ns/op is the apply; sql-ns/op the UPDATE; x-sql their
// ratio; peak-RSS-MB the process's resident-memory high-water mark during
// the apply; cpu-s/op the CPU time tierflow's own process used (the rest
// of the work is PostgreSQL's); changed-% the share of customers who
// moved. docs/benchmarks.md has the figures and how to run it:
//
//	TIERFLOW_BENCH_CUSTOMERS=1000000 go test -run '^$' -bench 'ApplyRetail$' -benchtime 3x -timeout 0 ./jobs/postgres/
//
// Setup (untimed) generates the customers, runs a first apply so every
// customer has state, saves that state, and multiplies the 12-month spend
// of every 12th customer by 10, which moves about 5% of customers. Each
// iteration then puts the saved state back, so every iteration
// reclassifies the same customers the same way.
func BenchmarkApplyRetail(b *testing.B) {
	ctx := context.Background()
	ab := setupApplyBench(ctx, b)
	checkWritePlan(ctx, b, ab.s)
	checkJoined(ctx, b, ab, facts(ab.s), true)
	b.Run(fmt.Sprintf("customers=%d", ab.n), func(b *testing.B) {
		ab.run(ctx, b, facts(ab.s), "", 0)
	})
}

// BenchmarkApplyRetailIncremental is BenchmarkApplyRetail for the retail
// example without its coverage targets (storetest.WithoutCoverage), whose
// standing every run counts for every customer, timed with every
// customer evaluated (mode=full) and with jobs.Options.Incremental
// (mode=incremental), which reads and evaluates only the customers
// whose marks say something can have changed; mode=incremental-plan
// times the plan of that night; mode=incremental-change-column finds the
// changed rows by an indexed updated_at column instead of their digests.
// The modes ending in engine-only set jobs.Options.EngineOnly: the marks
// alone decide whom the run reads, where the others let PostgreSQL run
// the rules on those first (jobs.IncrementalReport.InDatabase);
// mode=rules-changed applies rules whose hash changed since the last run,
// so that the marks do not hold, which PostgreSQL decides on every
// customer (jobs.IncrementalReport.Decided) and the engine-only mode
// evaluates everyone; mode=rules-changed-plan is the plan of that night,
// what a CI preview of a rule change runs.
// mode=statement-plan-1 and -2 time kernel.NextStatement, the whole night
// as one statement, grouped as a plan counts it (runStatement);
// mode=statement-apply the apply that statement stages in SQL
// (runStatementApply).
// The modes ending in 1pct do the same with a 96th of the customers
// changed instead of a twelfth. The SQL baseline, the reset and the
// checks are BenchmarkApplyRetail's (a plan's writes are not checked):
//
//	TIERFLOW_BENCH_CUSTOMERS=1000000 go test -run '^$' -bench ApplyRetailIncremental -benchtime 3x -timeout 0 ./jobs/postgres/
func BenchmarkApplyRetailIncremental(b *testing.B) {
	ctx := context.Background()
	ab := setupApplyBenchOf(ctx, b, func() *rules.RuleSet { return retail(b, storetest.WithoutCoverage...) })
	if ab.rs.HasCoverage() {
		b.Fatal("the retail example without coverage targets still has one")
	}
	for _, mode := range []string{"full", "incremental", "incremental-engine-only", "incremental-plan", "incremental-plan-engine-only",
		"rules-changed", "rules-changed-engine-only", "rules-changed-plan"} {
		b.Run(fmt.Sprintf("mode=%s/customers=%d", mode, ab.n), func(b *testing.B) {
			ab.incremental, ab.plan = mode != "full", strings.HasPrefix(mode, "incremental-plan") || mode == "rules-changed-plan"
			ab.engineOnly = strings.HasSuffix(mode, "-engine-only")
			ab.changeRules = strings.HasPrefix(mode, "rules-changed")
			ab.run(ctx, b, facts(ab.s), mode, 0)
		})
	}
	ab.engineOnly, ab.changeRules = false, false
	// The whole night in one statement (kernel.NextStatement), grouped as a
	// plan would count it, on one connection and split in two.
	for _, parts := range []int{1, 2} {
		b.Run(fmt.Sprintf("mode=statement-plan-%d/customers=%d", parts, ab.n), func(b *testing.B) {
			ab.runStatement(ctx, b, parts)
		})
	}
	b.Run(fmt.Sprintf("mode=statement-apply/customers=%d", ab.n), func(b *testing.B) {
		ab.runStatementApply(ctx, b)
	})
	// Last, as it widens customer_facts: the changed rows stamped in an
	// indexed updated_at (jobs.Source.ChangeColumn), and one untimed apply
	// first, which records the column's latest value for the next.
	exec(b, ab.s, `ALTER TABLE customer_facts ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '2024-06-01'`)
	exec(b, ab.s, `UPDATE customer_facts SET updated_at = '2024-06-30T23:00:00Z' WHERE customer_id % 12 = 0`) // changeFactsSQL's rows
	exec(b, ab.s, `CREATE INDEX ON customer_facts (updated_at)`)
	exec(b, ab.s, `VACUUM ANALYZE customer_facts`)
	stamped := jobs.FactsByRuleSet{"retail": jobs.Sources{{Name: jobs.PrimarySource, Facts: ab.s.Source("customer_facts"), ChangeColumn: "updated_at"}}}
	b.Run(fmt.Sprintf("mode=incremental-change-column/customers=%d", ab.n), func(b *testing.B) {
		ab.incremental, ab.plan, ab.warmUp = true, false, true
		ab.run(ctx, b, stamped, "incremental-change-column", 0)
	})
	// Last again: 1% of facts changed. Eleven twelfths of the changed
	// customers get their spend (and their stamp) back, so that those
	// whose key is a multiple of 96 keep the change: 1.04% of all, with
	// their digests and stamps as before, so both ways of finding them
	// are timed. The SQL baseline recomputes everyone, as ever.
	exec(b, ab.s, `UPDATE customer_facts AS f SET spend_12m = o.spend_12m, updated_at = '2024-06-01'
        FROM bench_spend AS o WHERE f.customer_id = o.customer_id AND o.customer_id % 96 <> 0`)
	exec(b, ab.s, `VACUUM ANALYZE customer_facts`)
	ab.movePct = 5.0 / 8 // an eighth of the customers who moved before
	for _, m := range []struct {
		mode   string
		src    jobs.FactsSource
		warmUp bool
	}{{"incremental-1pct", facts(ab.s), false}, {"incremental-1pct-engine-only", facts(ab.s), false}, {"incremental-1pct-change-column", stamped, true}} {
		b.Run(fmt.Sprintf("mode=%s/customers=%d", m.mode, ab.n), func(b *testing.B) {
			ab.incremental, ab.plan, ab.warmUp = true, false, m.warmUp
			ab.engineOnly = strings.HasSuffix(m.mode, "-engine-only")
			ab.run(ctx, b, m.src, m.mode, 0)
		})
	}
	ab.incremental, ab.warmUp, ab.movePct, ab.engineOnly = false, false, 5, false
}

// BenchmarkApplyRetailSeparateSource is BenchmarkApplyRetail with the
// facts read from elsewhere than the state database, so that the run
// joins them to state by customer key, batch by batch: from another
// PostgreSQL database holding the same customer_facts (source=database),
// and from a CSV file of them (source=csv). State, the SQL baseline and
// the checks are those of BenchmarkApplyRetail; each iteration must also
// change as many customers as the co-located apply did in setup.
//
//	TIERFLOW_BENCH_CUSTOMERS=1000000 go test -run '^$' -bench ApplyRetailSeparateSource -benchtime 3x -timeout 0 ./jobs/postgres/
//
// Setup adds to BenchmarkApplyRetail's: one co-located apply (with the SQL
// baseline and its checks) for the number of customers it changes, a
// second database filled by the same generator and the same change of
// facts (checked equal to the first), and the CSV file, written from the
// first database's facts as the co-located query reads them.
func BenchmarkApplyRetailSeparateSource(b *testing.B) {
	ctx := context.Background()
	ab := setupApplyBench(ctx, b)
	want := ab.colocatedChanged(ctx, b)
	sources := []struct {
		name string
		src  jobs.FactsSource
	}{
		{"database", factsDatabase(ctx, b, ab)},
		{"csv", factsCSV(ctx, b, ab)},
	}
	for _, src := range sources {
		checkJoined(ctx, b, ab, src.src, false)
		b.Run(fmt.Sprintf("source=%s/customers=%d", src.name, ab.n), func(b *testing.B) {
			ab.run(ctx, b, jobs.FactsByRuleSet{"retail": src.src}, src.name, want)
		})
	}
}

// applyBench is the state an apply benchmark's iterations start from.
type applyBench struct {
	s       *postgres.Store
	url     string // s's database
	rs      *rules.RuleSet
	n       int   // customers
	baseRun int64 // the first apply, which every saved assignment carries
	// incremental runs the timed applies with jobs.Options.Incremental;
	// plan times plans instead, of the same night.
	incremental, plan bool
	// engineOnly sets jobs.Options.EngineOnly: the marks alone decide
	// whom an incremental run reads. changeRules applies, in each
	// iteration, the rule set with a comment of its own added: rules
	// that changed since the last run (a new hash), the same outcome.
	engineOnly, changeRules bool
	variants                int
	// warmUp runs one untimed apply before the timed ones, for a run
	// record they read.
	warmUp bool
	// movePct is the share of customers an iteration must move, in
	// percent, give or take a fifth: 5, or 0.625 once only an eighth of
	// the changed facts stay changed (the 1pct modes).
	movePct float64
}

// setupApplyBench reads the number of customers, generates them and seeds
// their state (seedApplyBench) for the retail example. It skips the
// benchmark under -short.
func setupApplyBench(ctx context.Context, b *testing.B) *applyBench {
	return setupApplyBenchOf(ctx, b, func() *rules.RuleSet { return retail(b) })
}

// setupApplyBenchOf is setupApplyBench for the rule set ruleSet returns.
func setupApplyBenchOf(ctx context.Context, b testing.TB, ruleSet func() *rules.RuleSet) *applyBench {
	b.Helper()
	if testing.Short() {
		b.Skip("builds a large database; not run with -short")
	}
	n := 1_000_000
	if v := os.Getenv(benchCustomersEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("%s=%q: want a number of customers, at least 1000", benchCustomersEnv, v)
		}
	}
	if gctune.Set(os.Getenv) { // as cmd/tierflow runs
		b.Logf("setup: GOGC=%d, memory limit %d MiB", gctune.Percent, debug.SetMemoryLimit(-1)>>20)
	}
	generated := time.Now()
	s, url := newStoreURL(b, n)
	rs := ruleSet()
	b.Logf("setup: %d customers generated in %v", n, time.Since(generated).Round(time.Millisecond))
	return &applyBench{s: s, url: url, rs: rs, n: n, baseRun: seedApplyBench(ctx, b, s, rs, n), movePct: 5}
}

// run is one benchmark's iterations: each puts the saved state back,
// times the SQL baseline, then times an apply of the facts of src and
// checks it (checkSameOutcome; with want > 0, that it changed want
// customers). tag names the CPU profile's file.
func (ab *applyBench) run(ctx context.Context, b *testing.B, src jobs.FactsSource, tag string, want int) {
	b.ReportAllocs()
	var sqlTime, applyTime, cpuTime time.Duration
	var peakRSS int64
	var changed, rewritten, skipped, notRead int
	if ab.warmUp {
		b.StopTimer()
		resetBenchState(b, ab.s, ab.baseRun)
		if _, err := jobs.Apply(ctx, ab.s, src, ab.rs, jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard, Incremental: ab.incremental}); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		resetBenchState(b, ab.s, ab.baseRun)
		sqlTime += timeSQLBaseline(b, ab.s, ab.rs)

		debug.FreeOSMemory()
		resetPeakRSS(b)
		stopProfile := startCPUProfile(b, tag, i)
		start, startCPU := time.Now(), processCPU(b)
		b.StartTimer()
		run := jobs.Apply
		if ab.plan {
			run = jobs.Plan
		}
		rs := ab.rs
		if ab.changeRules {
			b.StopTimer()
			ab.variants++ // b.N=1 runs first: a name of its own for every apply
			rs = retail(b, append([]string{"ruleset: retail\n", fmt.Sprintf("ruleset: retail\n# variant %d\n", ab.variants)}, storetest.WithoutCoverage...)...)
			b.StartTimer()
		}
		out, err := run(ctx, ab.s, src, rs, jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard, Incremental: ab.incremental, EngineOnly: ab.engineOnly})
		b.StopTimer()
		applyTime += time.Since(start)
		cpuTime += processCPU(b) - startCPU
		stopProfile()
		if err != nil {
			b.Fatal(err)
		}
		peakRSS = max(peakRSS, readPeakRSS(b))
		changed = out.Report.Changed
		if r := out.Report.Incremental; r != nil {
			skipped, notRead = r.Skipped, r.NotRead
			if ab.incremental && r.InDatabase == ab.engineOnly {
				b.Fatalf("the run decided in the database: %v (%s), want %v", r.InDatabase, r.NotInDatabase, !ab.engineOnly)
			}
			if ab.changeRules && (r.Full == "" || r.StaleMarks == ab.engineOnly) {
				b.Fatalf("after a rule change: %+v; want a full run, decided in the database unless engine-only", r)
			}
			if ab.warmUp && r.ChangedSince.IsZero() {
				b.Fatalf("the apply compared every row's digest, not those changed since the warm-up's: %+v", r)
			}
		}
		if ab.plan {
			continue // nothing written
		}
		rewritten = count(b, ab.s, `SELECT count(*) FROM tierflow.customer_state t JOIN bench_state o USING (ruleset, customer_key)
            WHERE t.run_ids <> o.run_ids OR t.wake_at IS DISTINCT FROM o.wake_at OR t.facts_digest IS DISTINCT FROM o.facts_digest`)
		checkSameOutcome(b, ab.s, out, ab.n, ab.movePct)
		if want > 0 && changed != want {
			b.Fatalf("apply changed %d customers, the co-located apply %d", changed, want)
		}
	}
	perOp := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	b.ReportMetric(perOp(sqlTime), "sql-ns/op")
	b.ReportMetric(float64(applyTime)/float64(sqlTime), "x-sql")
	b.ReportMetric(float64(ab.n)/(applyTime.Seconds()/float64(b.N)), "customers/s")
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MB")
	b.ReportMetric(cpuTime.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(100*float64(changed)/float64(ab.n), "changed-%")
	b.ReportMetric(100*float64(rewritten)/float64(ab.n), "rewritten-%")
	b.ReportMetric(100*float64(skipped)/float64(ab.n), "skipped-%")
	b.ReportMetric(100*float64(notRead)/float64(ab.n), "not-read-%")
}

// colocatedChanged runs one iteration of BenchmarkApplyRetail, untimed,
// with the facts read joined to state in one query, and returns the number
// of customers its apply changed.
func (ab *applyBench) colocatedChanged(ctx context.Context, b testing.TB) int {
	b.Helper()
	src := ab.s.Source("customer_facts")
	checkJoined(ctx, b, ab, src, true)
	resetBenchState(b, ab.s, ab.baseRun)
	sqlTime := timeSQLBaseline(b, ab.s, ab.rs)
	start := time.Now()
	out, err := jobs.Apply(ctx, ab.s, src, ab.rs, jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard})
	if err != nil {
		b.Fatal(err)
	}
	applyTime := time.Since(start)
	checkSameOutcome(b, ab.s, out, ab.n, ab.movePct)
	b.Logf("setup: co-located apply in %v (SQL baseline %v, %.2fx), %d customers changed",
		applyTime.Round(time.Millisecond), sqlTime.Round(time.Millisecond), float64(applyTime)/float64(sqlTime), out.Report.Changed)
	return out.Report.Changed
}

// checkJoined checks which way a run reads src's facts with ab's state:
// joined to state in one query (jobs.ReadsJoined) when want is true, and
// otherwise by customer key, batch by batch.
func checkJoined(ctx context.Context, b testing.TB, ab *applyBench, src jobs.FactsSource, want bool) {
	b.Helper()
	snap, err := jobs.OpenSnapshot(ctx, ab.s, src, ab.rs, jobs.At(asOf))
	if err != nil {
		b.Fatal(err)
	}
	defer snap.Close()
	if joined := jobs.ReadsJoined(snap); joined != want {
		b.Fatalf("facts source %T is read as %T: joined to state in one query is %v, want %v", src, snap, joined, want)
	}
}

// factsDatabase makes a second database holding the same customer_facts
// as ab's, generated and changed the same way, and returns a source on it
// opened as a database of facts only.
func factsDatabase(ctx context.Context, b testing.TB, ab *applyBench) jobs.FactsSource {
	b.Helper()
	start := time.Now()
	url := pgtest.URL(b)
	fs, err := postgres.Open(ctx, postgres.Config{URL: url})
	must(b, err)
	defer fs.Close()
	exec(b, fs, factsDDL)
	insertCustomers(b, fs, 1, ab.n)
	exec(b, fs, changeFactsSQL)
	exec(b, fs, `VACUUM ANALYZE customer_facts`)
	const all = `SELECT * FROM customer_facts`
	if got, want := digestOf(b, fs.DB().DB, all), digestOf(b, ab.s.DB().DB, all); got != want {
		b.Fatalf("the facts database holds other facts than the state database: %s, want %s", got, want)
	}
	db, err := postgres.OpenDatabase(ctx, url, "facts")
	must(b, err)
	b.Cleanup(func() { db.Close() })
	b.Logf("setup: facts database filled in %v", time.Since(start).Round(time.Millisecond))
	return db.Source("customer_facts")
}

// factsCSV writes ab's customer_facts to a CSV file, in key order, each
// fact as the co-located snapshot query reads it (times in UTC, numbers as
// float8), and returns a source on the file.
func factsCSV(ctx context.Context, b testing.TB, ab *applyBench) jobs.FactsSource {
	b.Helper()
	start := time.Now()
	key := pq.QuoteIdentifier(ab.rs.Key)
	cols, header := []string{key + "::text"}, []string{ab.rs.Key}
	for _, f := range ab.rs.Facts.Fields {
		c := pq.QuoteIdentifier(f.Name)
		switch f.Type {
		case rules.TypeTime:
			c = `to_char(` + c + `::timestamptz, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
		case rules.TypeNumber:
			c += "::float8::text"
		default:
			c += "::text"
		}
		cols, header = append(cols, c), append(header, f.Name)
	}
	tx, err := ab.s.DB().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	must(b, err)
	defer tx.Rollback() //nolint:errcheck
	_, err = tx.ExecContext(ctx, `SET LOCAL TIME ZONE 'UTC'`)
	must(b, err)
	rows, err := tx.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM customer_facts ORDER BY `+key)
	must(b, err)
	defer rows.Close()
	f, err := os.Create(filepath.Join(b.TempDir(), "customer_facts.csv"))
	must(b, err)
	defer f.Close()
	w := csv.NewWriter(f)
	must(b, w.Write(header))
	vals, dest, record := make([]sql.NullString, len(cols)), make([]any, len(cols)), make([]string, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		must(b, rows.Scan(dest...))
		for i, v := range vals {
			record[i] = v.String // "" for null
		}
		must(b, w.Write(record))
	}
	must(b, rows.Err())
	w.Flush()
	must(b, w.Error())
	fi, err := f.Stat()
	must(b, err)
	must(b, f.Close())
	src, err := factsfile.Open(f.Name(), "")
	must(b, err)
	b.Logf("setup: %d MB of CSV written in %v", fi.Size()>>20, time.Since(start).Round(time.Millisecond))
	return src
}

// must fails the benchmark on an error.
func must(b testing.TB, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// seedApplyBench gives every customer state with a first apply, saves
// that state in bench_base, copies it to bench_sql for the SQL baseline,
// and then changes the facts of every 12th customer. It returns the
// first apply's run id, which every saved assignment carries.
func seedApplyBench(ctx context.Context, b testing.TB, s *postgres.Store, rs *rules.RuleSet, n int) int64 {
	b.Helper()
	debug.FreeOSMemory()
	resetPeakRSS(b)
	start := time.Now()
	out, err := jobs.Apply(ctx, s, facts(s), rs, jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard})
	if err != nil {
		b.Fatal(err)
	}
	if out.Report.Customers != n {
		b.Fatalf("first apply evaluated %d customers, want %d", out.Report.Customers, n)
	}
	b.Logf("setup: first apply (every customer changes) in %v, peak RSS %d MB",
		time.Since(start).Round(time.Millisecond), readPeakRSS(b)>>20)
	// A second apply of the same facts at the same as-of moves nobody and
	// gives every customer the mark of a customer with state, as after
	// many nights: a first run, with no previous segments, wakes on the
	// next run everyone whose rules read previous segments.
	start = time.Now()
	settle, err := jobs.Apply(ctx, s, facts(s), rs, jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard})
	if err != nil {
		b.Fatal(err)
	}
	if settle.Report.Changed != 0 {
		b.Fatalf("a second apply of the same facts moved %d customers", settle.Report.Changed)
	}
	b.Logf("setup: second apply (nobody moves, marks settle) in %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	// tierflow's state rows, and the SQL baseline's table of one row per
	// customer and segmentation as assignments was before migration 0008
	// (its columns, primary key and statistics, 0001 and 0003), filled
	// from the view of that name; bench_base keeps both as saved.
	exec(b, s, `CREATE TABLE bench_state (LIKE tierflow.customer_state INCLUDING ALL)`)
	exec(b, s, `INSERT INTO bench_state SELECT * FROM tierflow.customer_state`)
	// The tally of those rows, put back with them (a tally of other rows
	// would make incremental runs refuse their counts).
	exec(b, s, `CREATE TABLE bench_tally AS SELECT * FROM tierflow.state_tally`)
	for _, table := range []string{"bench_base", "bench_sql"} {
		exec(b, s, `CREATE TABLE `+table+` (ruleset text NOT NULL, segmentation text NOT NULL, customer_key text NOT NULL, segment text NOT NULL,
            since timestamptz NOT NULL, pending_since timestamptz, reason text NOT NULL, run_id bigint NOT NULL,
            PRIMARY KEY (ruleset, segmentation, customer_key))`)
		exec(b, s, `ALTER TABLE `+table+` ALTER COLUMN customer_key SET (n_distinct = -1)`)
		exec(b, s, `INSERT INTO `+table+` SELECT * FROM tierflow.assignments`)
	}
	// About 60% of the changed customers move (not those who stay small
	// or key), 5% of all. Spend only goes up, so customers only move up a
	// value tier or out of at_risk: no downgrade grace and no action is
	// involved, and the SQL baseline does the same work as the apply.
	exec(b, s, `CREATE TABLE bench_spend AS SELECT customer_id, spend_12m FROM customer_facts WHERE customer_id % 12 = 0`)
	exec(b, s, changeFactsSQL)
	exec(b, s, `VACUUM ANALYZE`)
	b.Logf("setup: state saved and facts changed in %v", time.Since(start).Round(time.Millisecond))
	return out.RunID
}

// resetBenchState puts back the state saved after the first apply (run
// baseRun): the rows the last apply and the last SQL baseline changed,
// their tally, and the last apply's history.
func resetBenchState(b testing.TB, s *postgres.Store, baseRun int64) {
	b.Helper()
	exec(b, s, `DELETE FROM tierflow.history WHERE run_id <> $1`, baseRun)
	// A row the previous iteration rewrote has its run id, or only a new
	// mark (wake-up time, facts digest).
	exec(b, s, `UPDATE tierflow.customer_state AS t
        SET segments = o.segments, since = o.since, pending_since = o.pending_since, reasons = o.reasons, run_ids = o.run_ids, action_at = o.action_at,
            wake_at = o.wake_at, facts_digest = o.facts_digest
        FROM bench_state AS o
        WHERE (NOT t.run_ids <@ ARRAY[$1::bigint] OR t.wake_at IS DISTINCT FROM o.wake_at OR t.facts_digest IS DISTINCT FROM o.facts_digest)
            AND (o.ruleset, o.customer_key) = (t.ruleset, t.customer_key)`, baseRun)
	exec(b, s, `DELETE FROM tierflow.state_tally`)
	exec(b, s, `INSERT INTO tierflow.state_tally SELECT * FROM bench_tally`)
	exec(b, s, `UPDATE bench_sql AS t
        SET segment = o.segment, since = o.since, pending_since = o.pending_since, reason = o.reason, run_id = o.run_id
        FROM bench_base AS o
        WHERE t.run_id <> $1 AND (o.ruleset, o.segmentation, o.customer_key) = (t.ruleset, t.segmentation, t.customer_key)`, baseRun)
	for _, table := range []string{"tierflow.assignments", "bench_sql"} {
		if got := count(b, s, `SELECT count(*) FROM `+table+` WHERE run_id <> $1`, baseRun); got != 0 {
			b.Fatalf("reset left %d rows of %s unlike the saved state", got, table)
		}
	}
	exec(b, s, `VACUUM ANALYZE tierflow.customer_state, tierflow.history, bench_sql`)
}

// checkSameOutcome checks the apply against the SQL baseline: both changed
// the same assignment rows (every other row is as saved), to the same
// segments, since dates and pending dates; and history has a move for each.
func checkSameOutcome(b testing.TB, s *postgres.Store, out *jobs.Outcome, n int, movePct float64) {
	b.Helper()
	differ := count(b, s, `SELECT count(*)
        FROM (SELECT * FROM tierflow.assignments WHERE run_id = $1) AS t
        FULL JOIN (SELECT * FROM bench_sql WHERE run_id = $2) AS q USING (ruleset, segmentation, customer_key)
        WHERE (t.segment, t.since, t.pending_since) IS DISTINCT FROM (q.segment, q.since, q.pending_since)`, out.RunID, sqlRunID)
	if differ != 0 {
		b.Fatalf("apply and SQL baseline disagree on %d assignment rows", differ)
	}
	sqlMoves := count(b, s, `SELECT count(*) FROM bench_sql WHERE run_id = $1`, sqlRunID)
	moves := count(b, s, `SELECT count(*) FROM tierflow.history WHERE run_id = $1`, out.RunID)
	if moves != sqlMoves {
		b.Fatalf("apply recorded %d moves, SQL baseline changed %d rows", moves, sqlMoves)
	}
	lo, hi := float64(n)*movePct*0.8/100, float64(n)*movePct*1.2/100
	if rep := out.Report; float64(rep.Changed) < lo || float64(rep.Changed) > hi || rep.ActionsTotal != 0 || rep.Errors.Customers != 0 {
		b.Fatalf("apply changed %d customers (want about %g%% of %d), queued %d actions, had %d errors",
			rep.Changed, movePct, n, rep.ActionsTotal, rep.Errors.Customers)
	}
}

// checkWritePlan checks that the apply's write of changed state rows
// finds each row by the primary key rather than joining the whole table,
// with the statistics as they are after VACUUM ANALYZE. The statement is
// the "write state" statement of ApplyTx.Commit; the staging table holds
// the state rows of 5% of the customers, as many as an iteration stages.
func checkWritePlan(ctx context.Context, b testing.TB, s *postgres.Store) {
	b.Helper()
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	for _, q := range []string{
		`CREATE TEMP TABLE tierflow_stage ON COMMIT DROP AS
            SELECT 's'::char(1) AS kind, customer_key, segments AS st_segments, since AS st_since, pending_since AS st_pending_since,
                reasons AS st_reasons, run_ids AS st_run_ids, action_at AS st_action_at, wake_at AS st_wake_at, facts_digest AS st_facts_digest
            FROM tierflow.customer_state WHERE customer_key::bigint % 20 = 0`,
		`ANALYZE tierflow_stage (kind, customer_key)`, // as ApplyTx.Commit does
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	t := kernel.Tables{State: "tierflow.customer_state", Layout: "tierflow.state_layout"}
	lay, err := kernel.ReadLayout(ctx, tx, t, "retail")
	if err != nil {
		b.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, `EXPLAIN `+kernel.StateUpsertSQL(postgres.Dialect, t, "tierflow_stage", lay), "retail")
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			b.Fatal(err)
		}
		plan = append(plan, line)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "Conflict Arbiter Indexes: customer_state_pkey") ||
		strings.Contains(text, "Join") || strings.Contains(text, "Scan on customer_state") {
		b.Fatalf("the write of changed state rows does not look rows up by primary key:\n%s", text)
	}
	b.Logf("setup: plan of the write of changed state rows:\n%s", text)
}

// startCPUProfile starts a CPU profile of iteration i's apply into the
// file named by TIERFLOW_BENCH_CPUPROFILE (with -tag, if any, and then
// -N after the first iteration before the extension) and returns the
// function that stops it.
func startCPUProfile(b *testing.B, tag string, i int) (stop func()) {
	path := os.Getenv(benchProfileEnv)
	if path == "" {
		return func() {}
	}
	ext := filepath.Ext(path)
	base := strings.TrimSuffix(path, ext)
	if tag != "" {
		base += "-" + tag
	}
	path = base + ext
	if i > 0 {
		path = fmt.Sprintf("%s-%d%s", base, i, ext)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

// processCPU returns the CPU time the process has used, user and system.
func processCPU(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the process's resident-memory high-water mark
// (VmHWM) to its current resident size (Linux 4.0 and later).
func resetPeakRSS(b testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset peak RSS, it includes setup: %v", err)
	}
}

// readPeakRSS returns the process's resident-memory high-water mark in
// bytes, from VmHWM in /proc/self/status.
func readPeakRSS(b testing.TB) int64 {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Logf("cannot read peak RSS: %v", err)
		return 0
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// nextIteration begins an iteration of a benchmark on ab: the saved
// state put back and the SQL baseline timed, untimed, then the timer
// started. It returns the baseline's time and when the iteration began.
func (ab *applyBench) nextIteration(b *testing.B) (baseline time.Duration, start time.Time) {
	b.StopTimer()
	resetBenchState(b, ab.s, ab.baseRun)
	baseline = timeSQLBaseline(b, ab.s, ab.rs)
	start = time.Now()
	b.StartTimer()
	return baseline, start
}

// timeSQLBaseline runs the hand-written reclassification on bench_sql
// and returns how long it took.
func timeSQLBaseline(b testing.TB, s *postgres.Store, rs *rules.RuleSet) time.Duration {
	b.Helper()
	q := retailSQL(b, rs)
	start := time.Now()
	res, err := s.DB().Exec(q, asOf, sqlRunID)
	d := time.Since(start)
	if err != nil {
		b.Fatalf("SQL baseline: %v\n%s", err, q)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		b.Fatalf("SQL baseline changed %d rows (%v)", n, err)
	}
	return d
}

// retailSQL is the reclassification written by hand as one UPDATE. The
// subquery f evaluates the conditions of examples/retail/retail.yaml once
// per customer; the CASE expressions then pick each segmentation's segment
// from them and the previous state (won_back, the downgrade graces of vip
// and key, the minimum stay in won_back). Thresholds, graces and the stay
// are read from the rule set. Only rows whose segment or pending downgrade
// changes are updated. $1 is the as-of time, $2 the run id to record.
func retailSQL(b testing.TB, rs *rules.RuleSet) string {
	b.Helper()
	param := func(name string) string {
		for _, p := range rs.Params {
			if p.Name == name {
				return fmt.Sprint(p.Value)
			}
		}
		b.Fatalf("retail.yaml has no param %s", name)
		return ""
	}
	days := func(name string, plus int) string {
		n, err := strconv.Atoi(param(name))
		if err != nil {
			b.Fatalf("param %s: %v", name, err)
		}
		return fmt.Sprintf("interval '%d days'", n+plus)
	}
	segment := func(segmentation, name string) *rules.Segment {
		s, _ := rs.Segmentation(segmentation)
		if i := s.SegmentIndex(name); i >= 0 {
			return s.Segments[i]
		}
		b.Fatalf("retail.yaml has no segment %s.%s", segmentation, name)
		return nil
	}
	interval := func(d time.Duration) string { return fmt.Sprintf("interval '%d seconds'", int64(d.Seconds())) }

	// days_since(t) > n is $1 - t >= n+1 days, and <= n is < n+1 days:
	// days_since counts whole days of 24 hours.
	r := strings.NewReplacer(
		"{vip_spend}", param("vip_spend"), "{vip_orders}", param("vip_orders"),
		"{key_spend}", param("key_spend"), "{regular_spend}", param("regular_spend"),
		"{new_days+1}", days("new_days", 1), "{churn_days+1}", days("churn_days", 1),
		"{at_risk_ratio}", param("at_risk_ratio"),
		"{vip_grace}", interval(segment("value_tier", "vip").DowngradeGrace),
		"{key_grace}", interval(segment("value_tier", "key").DowngradeGrace),
		"{won_back_stay}", interval(segment("lifecycle", "won_back").MinStay),
	)
	const pending = `CASE WHEN a.pending_since IS NULL OR a.pending_since > $1 THEN $1 ELSE a.pending_since END`
	const inGrace = `(a.segment IN ('vip', 'key')
            AND array_position(ARRAY['vip', 'key', 'regular', 'small'], f.tier) > array_position(ARRAY['vip', 'key', 'regular', 'small'], a.segment)
            AND $1 - ` + pending + ` < CASE a.segment WHEN 'vip' THEN {vip_grace} ELSE {key_grace} END)`
	const newSegment = `CASE a.segmentation
            WHEN 'value_tier' THEN CASE WHEN ` + inGrace + ` THEN a.segment ELSE f.tier END
            WHEN 'lifecycle' THEN CASE
                WHEN a.segment = 'won_back' AND $1 - a.since < {won_back_stay} THEN 'won_back'
                WHEN f.churned THEN 'churned'
                WHEN f.new THEN 'new'
                WHEN a.segment = 'churned' THEN 'won_back'
                WHEN f.at_risk THEN 'at_risk'
                ELSE 'active' END
            WHEN 'source' THEN f.source END`
	const newPending = `CASE WHEN a.segmentation = 'value_tier' AND ` + inGrace + ` THEN ` + pending + ` END`
	return r.Replace(`UPDATE bench_sql AS a
        SET segment = ` + newSegment + `,
            pending_since = ` + newPending + `,
            since = CASE WHEN a.segment = ` + newSegment + ` THEN a.since ELSE $1 END,
            reason = 'sql', run_id = $2
        FROM (SELECT customer_id::text AS customer_key,
                CASE WHEN spend_12m >= {vip_spend} AND orders_12m >= {vip_orders} THEN 'vip'
                    WHEN spend_12m >= {key_spend} THEN 'key'
                    WHEN spend_12m >= {regular_spend} THEN 'regular'
                    ELSE 'small' END AS tier,
                last_order_at IS NULL OR $1 - last_order_at >= {churn_days+1} AS churned,
                $1 - (first_order_at::timestamp AT TIME ZONE 'UTC') < {new_days+1} AS new,
                spend_prev_12m > 0 AND spend_12m < spend_prev_12m * {at_risk_ratio} AS at_risk,
                CASE channel WHEN 'online' THEN 'online' WHEN 'store' THEN 'store' ELSE 'other' END AS source
            FROM customer_facts OFFSET 0) AS f
        WHERE a.ruleset = 'retail' AND a.customer_key = f.customer_key
          AND (a.segment, a.pending_since) IS DISTINCT FROM (` + newSegment + `, ` + newPending + `)`)
}

// wholeRetail is the edit that, on top of storetest.WithoutCoverage,
// makes the retail example translate whole (retail already drops its
// limits and holdouts): string() of an integer in winback_call's payload.
var wholeRetail = []string{
	"string(round(-pct_change(spend_prev_12m, spend_12m)))", "string(int(round(-pct_change(spend_prev_12m, spend_12m))))",
}

// runStatement times kernel.NextStatement for the retail example made to
// translate whole (wholeRetail), grouped by whether a customer is for
// the engine, its segments and the actions queued, as an in-database
// plan would count them; with parts > 1 the customers are split by
// hashtext of the key across that many connections at once. Each
// iteration first puts the saved state back and times the SQL baseline;
// x-sql is the statement's time over the baseline's.
func (ab *applyBench) runStatement(ctx context.Context, b *testing.B, parts int) {
	whole, src := ab.whole(b)
	tables := kernel.Tables{State: "tierflow.customer_state", Layout: "tierflow.state_layout"}
	var sqlTime, stmtTime time.Duration
	var engine int
	for i := 0; i < b.N; i++ {
		base, start := ab.nextIteration(b)
		sqlTime += base
		stmt, why, err := kernel.NextStatement(ctx, ab.s.DB(), postgres.Dialect, tables, whole, src, asOf)
		if err != nil || stmt == "" {
			b.Fatalf("%v %s", err, why)
		}
		group := []string{"engine"}
		for k := range whole.Segmentations {
			group = append(group, fmt.Sprintf("s%d_segment", k))
		}
		for k := range whole.Actions {
			group = append(group, fmt.Sprintf("a%d_fires", k))
		}
		g := strings.Join(group, ", ")
		errs := make([]error, parts)
		counts := make([]int, parts)
		var wg sync.WaitGroup
		for p := range parts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q := "SELECT " + g + ", count(*) FROM (" + stmt + ") AS n"
				if parts > 1 {
					q += fmt.Sprintf(" WHERE hashtext(key) & %d = %d", parts-1, p)
				}
				tx, err := ab.s.DB().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
				if err != nil {
					errs[p] = err
					return
				}
				defer tx.Rollback() //nolint:errcheck
				for _, s := range append([]string{"jit = off"}, sqlexpr.NextSettings...) {
					if _, errs[p] = tx.ExecContext(ctx, "SET LOCAL "+s); errs[p] != nil {
						return
					}
				}
				rows, err := tx.QueryContext(ctx, q+" GROUP BY "+g, asOf)
				if err != nil {
					errs[p] = err
					return
				}
				defer rows.Close()
				for rows.Next() {
					vals := make([]any, len(group)+1)
					var isEngine bool
					var n int
					vals[0] = &isEngine
					for k := 1; k < len(group); k++ {
						vals[k] = new(any)
					}
					vals[len(group)] = &n
					if errs[p] = rows.Scan(vals...); errs[p] != nil {
						return
					}
					if isEngine {
						counts[p] += n
					}
				}
				errs[p] = rows.Err()
			}()
		}
		wg.Wait()
		b.StopTimer()
		stmtTime += time.Since(start)
		for p := range parts {
			if errs[p] != nil {
				b.Fatal(errs[p])
			}
			engine += counts[p]
		}
	}
	b.ReportMetric(float64(sqlTime.Nanoseconds())/float64(b.N), "sql-ns/op")
	b.ReportMetric(float64(stmtTime)/float64(sqlTime), "x-sql")
	b.ReportMetric(100*float64(engine)/float64(b.N*ab.n), "engine-%")
}

// runStatementApply times an apply staged in the database
// (kernel.NextApply): the run record, the apply transaction, every
// customer's evaluation materialised and staged in SQL, and the commit's
// merges, with no customer streamed (the whole retail example leaves
// none to the engine on the benchmark's data, which it checks).
func (ab *applyBench) runStatementApply(ctx context.Context, b *testing.B) {
	whole, src := ab.whole(b)
	var sqlTime, applyTime time.Duration
	var moved int
	for i := 0; i < b.N; i++ {
		base, start := ab.nextIteration(b)
		sqlTime += base
		info := jobs.RunInfo{RuleSet: whole.Name, RulesHash: whole.Hash, AsOf: asOf, Started: time.Now()}
		var err error
		if info.ID, err = ab.s.StartRun(ctx, info, "apply"); err != nil {
			b.Fatal(err)
		}
		tx, err := ab.s.BeginApply(ctx, whole, info)
		if err != nil {
			b.Fatal(err)
		}
		keys, why, err := tx.(interface {
			StageNext(context.Context, string, bool, *engine.Plan) ([]string, string, error)
		}).StageNext(ctx, src, false, engine.NewPlan(whole))
		if err != nil || why != "" {
			b.Fatalf("%v %s", err, why)
		}
		if len(keys) > 0 {
			b.Fatalf("%d customers left to the engine", len(keys))
		}
		if err := tx.Commit(ctx, jobs.RunSummary{Status: jobs.StatusSucceeded, Finished: time.Now()}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		applyTime += time.Since(start)
		moved = count(b, ab.s, `SELECT count(DISTINCT customer_key) FROM tierflow.history WHERE run_id = $1`, info.ID)
		if moved == 0 {
			b.Fatal("the apply moved nobody")
		}
	}
	b.ReportMetric(float64(sqlTime.Nanoseconds())/float64(b.N), "sql-ns/op")
	b.ReportMetric(float64(applyTime)/float64(sqlTime), "x-sql")
	b.ReportMetric(100*float64(moved)/float64(ab.n), "changed-%")
}

// whole is the retail example edited to translate whole (wholeRetail),
// without its coverage targets, and the source query of the benchmark's
// facts: what the statement modes run.
func (ab *applyBench) whole(b *testing.B) (*rules.RuleSet, string) {
	rs := retail(b, append(append([]string{}, storetest.WithoutCoverage...), wholeRetail...)...)
	src, err := ab.s.Source("customer_facts").SQL()
	if err != nil {
		b.Fatal(err)
	}
	return rs, src
}
