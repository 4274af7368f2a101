package sqlite

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/gctune"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/storetest"
	"github.com/tierflow/tierflow/rules"
)

// benchCustomersEnv sets the number of customers of BenchmarkApplyRetail.
const benchCustomersEnv = "TIERFLOW_BENCH_CUSTOMERS"

// BenchmarkApplyRetail times the retail example on a SQLite file of
// 100,000 customers (TIERFLOW_BENCH_CUSTOMERS to change), with the
// default options (a worker per CPU, batches of 1000):
//
//   - initial: the first apply, where every customer gets a segment in
//     each segmentation (three assignments and three history rows each);
//   - apply: a later apply where the 12-month spend of every 20th
//     customer went up tenfold, so about 5% of customers move;
//   - plan: the plan of that change;
//   - apply-no-coverage, apply-incremental, plan-incremental: the retail
//     example without coverage targets (storetest.WithoutCoverage), whose
//     standing every run counts for everyone, applied after the same
//     change as above with every customer evaluated, and applied and
//     planned with jobs.Options.Incremental, which reads only the
//     customers who can have changed.
//
// Each iteration starts from a copy of a file prepared once (untimed),
// so every iteration does the same work. peak-RSS-MB is the process's
// resident-memory high-water mark during the run (Linux):
//
//	go test -run '^$' -bench ApplyRetail -benchtime 3x ./jobs/sqlite/
func BenchmarkApplyRetail(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a large database; not run with -short")
	}
	n := 100_000
	if v := os.Getenv(benchCustomersEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 20 {
			b.Fatalf("%s=%q: want a number of customers, at least 20", benchCustomersEnv, v)
		}
	}
	if gctune.Set(os.Getenv) { // as cmd/tierflow runs
		gctune.Outside(ApplyCacheBytes())
		b.Logf("setup: GOGC=%d, memory limit %d MiB", gctune.Percent, debug.SetMemoryLimit(-1)>>20)
	}
	ctx := context.Background()
	dir := b.TempDir()
	facts, seeded := filepath.Join(dir, "facts.db"), filepath.Join(dir, "seeded.db")
	asOf := storetest.Options().AsOf
	rs := storetest.RetailRuleSet(b)
	open := func(path string) testStore {
		s, err := openTest(ctx, Config{Path: path}, map[string]string{"retail": "customer_facts"})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	closeFile := func(s testStore) {
		if _, err := s.DB().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}

	start := time.Now()
	s := open(facts)
	if _, err := s.Migrate(ctx, false); err != nil {
		b.Fatal(err)
	}
	storetest.CreateFacts(b, s, factsDDL, n)
	closeFile(s)
	b.Logf("setup: %d customers generated in %v", n, time.Since(start).Round(time.Millisecond))
	// seed applies rs to a copy of the facts at path: the first apply,
	// then a second of the same facts that moves nobody and gives every
	// customer the mark of a customer with state, as after many nights (a
	// first run wakes on the next everyone whose rules read previous
	// segments); then it changes the facts.
	seed := func(path string, rs *rules.RuleSet) {
		copyFile(b, facts, path)
		s := open(path)
		for range 2 {
			if _, err := jobs.Apply(ctx, s, s.facts(), rs, jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.DB().Exec(`UPDATE customer_facts SET spend_12m = spend_12m * 10 WHERE customer_id % 20 = 0`); err != nil {
			b.Fatal(err)
		}
		closeFile(s)
	}
	seed(seeded, rs)
	if fi, err := os.Stat(seeded); err == nil {
		b.Logf("setup: the file after the first apply is %.1f MB", float64(fi.Size())/(1<<20))
	}
	// Incremental runs need a rule set without coverage targets, seeded
	// on its own.
	noCoverage := storetest.RetailRuleSet(b, storetest.WithoutCoverage...)
	seededNoCoverage := filepath.Join(dir, "seeded-no-coverage.db")
	seed(seededNoCoverage, noCoverage)

	var runOf func(name, base string, rs *rules.RuleSet, plan bool, o jobs.Options, check func(*jobs.Outcome))
	run := func(name, base string, plan bool, check func(*jobs.Outcome)) {
		runOf(name, base, rs, plan, jobs.Options{}, check)
	}
	runOf = func(name, base string, rs *rules.RuleSet, plan bool, o jobs.Options, check func(*jobs.Outcome)) {
		b.Run(fmt.Sprintf("%s/customers=%d", name, n), func(b *testing.B) {
			b.ReportAllocs()
			var took time.Duration
			var peakRSS int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				work := filepath.Join(b.TempDir(), "work.db")
				copyFile(b, base, work)
				s := open(work)
				debug.FreeOSMemory()
				resetPeakRSS(b)
				b.StartTimer()
				begin := time.Now()
				var out *jobs.Outcome
				var err error
				o.AsOf, o.Guard = asOf, jobs.DefaultGuard
				if plan {
					out, err = jobs.Plan(ctx, s, s.facts(), rs, o)
				} else {
					out, err = jobs.Apply(ctx, s, s.facts(), rs, o)
				}
				took += time.Since(begin)
				b.StopTimer()
				peakRSS = max(peakRSS, readPeakRSS(b))
				if err != nil {
					b.Fatal(err)
				}
				check(out)
				s.Close()
			}
			b.ReportMetric(float64(n)*float64(b.N)/took.Seconds(), "customers/s")
			b.ReportMetric(float64(peakRSS)/(1<<20), "peak-RSS-MB")
		})
	}
	run("initial", facts, false, func(out *jobs.Outcome) {
		if out.Report.Changed != n {
			b.Fatalf("the first apply changed %d customers, want all %d", out.Report.Changed, n)
		}
	})
	moved := func(out *jobs.Outcome) {
		if r := out.Report; r.Changed < n/40 || r.Changed > n/20 || r.Errors.Customers != 0 {
			b.Fatalf("changed %d customers (want %d to %d), %d errors", r.Changed, n/40, n/20, r.Errors.Customers)
		}
	}
	run("apply", seeded, false, moved)
	run("plan", seeded, true, moved)
	incremental := jobs.Options{Incremental: true}
	unread := func(out *jobs.Outcome) {
		moved(out)
		if r := out.Report.Incremental; r.Full != "" || r.ReadsAll != "" || r.NotRead < n/2 {
			b.Fatalf("the incremental run left %d customers unread (full: %q, reads all: %q)", r.NotRead, r.Full, r.ReadsAll)
		}
	}
	runOf("apply-no-coverage", seededNoCoverage, noCoverage, false, jobs.Options{}, moved)
	runOf("apply-incremental", seededNoCoverage, noCoverage, false, incremental, unread)
	runOf("plan-incremental", seededNoCoverage, noCoverage, true, incremental, unread)
}

func copyFile(b testing.TB, from, to string) {
	b.Helper()
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		b.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		b.Fatal(err)
	}
}

// resetPeakRSS resets the process's resident-memory high-water mark
// (VmHWM) to its current resident size (Linux 4.0 and later).
func resetPeakRSS(b testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset peak RSS, it includes setup: %v", err)
	}
}

// readPeakRSS returns the process's resident-memory high-water mark in
// bytes, from VmHWM in /proc/self/status; 0 where there is none.
func readPeakRSS(b testing.TB) int64 {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
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
