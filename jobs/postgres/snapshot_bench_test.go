package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/postgres"
)

// BenchmarkSnapshotQuery times, after the setup of BenchmarkApplyRetail,
// the two reads of a night: the snapshot query alone in PostgreSQL
// (query: COPY (query) TO '/dev/null', so without the client's decoding),
// and a whole plan (plan). pg-wall-s/op and pg-cpu-s/op are the server's
// wall and CPU time, from /proc: the server must run on this machine.
// docs/benchmarks.md has the figures:
//
//	TIERFLOW_BENCH_CUSTOMERS=1000000 go test -run '^$' -bench SnapshotQuery -benchtime 3x -timeout 0 ./jobs/postgres/
func BenchmarkSnapshotQuery(b *testing.B) {
	ctx := context.Background()
	ab := setupApplyBench(ctx, b)
	src := ab.s.Source("customer_facts")
	cols, err := src.Columns(ctx, ab.rs)
	must(b, err)
	q, err := src.SQL()
	must(b, err)
	t := kernel.Tables{State: "tierflow.customer_state", Layout: "tierflow.state_layout"}
	lay, err := kernel.ReadLayout(ctx, ab.s.DB(), t, ab.rs.Name)
	must(b, err)
	query := kernel.SnapshotQuery(postgres.Dialect, t, ab.rs, lay, cols, q)
	b.Run("query", func(b *testing.B) { timeSnapshotQuery(ctx, b, ab.s.DB().DB, query) })
	b.Run("plan", func(b *testing.B) { timePlan(ctx, b, ab) })
}

// timePlan times a whole plan of the change of facts, reporting the
// server's CPU too.
func timePlan(ctx context.Context, b *testing.B, ab *applyBench) {
	pm := postmaster(b, ab.s.DB().DB)
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		cpu0 := serverCPU(b, pm)
		out, err := jobs.Plan(ctx, ab.s, facts(ab.s), ab.rs, jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard})
		must(b, err)
		cpu += serverCPU(b, pm) - cpu0
		if out.Report.Changed < ab.n*4/100 {
			b.Fatalf("plan changes %d customers", out.Report.Changed)
		}
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "pg-cpu-s/op")
}

// timeSnapshotQuery runs query b.N times as COPY (query) TO '/dev/null' in
// a repeatable-read, read-only transaction in UTC, as the snapshot reads,
// and reports the server's wall and CPU time per query.
func timeSnapshotQuery(ctx context.Context, b *testing.B, db *sql.DB, query string) {
	b.Logf("snapshot query:\n%s", query)
	var wall, cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		must(b, err)
		_, err = tx.ExecContext(ctx, `SET LOCAL TIME ZONE 'UTC'`)
		must(b, err)
		pm := postmaster(b, db)
		cpu0 := serverCPU(b, pm)
		start := time.Now()
		b.StartTimer()
		_, err = tx.ExecContext(ctx, `COPY (`+query+`) TO '/dev/null'`)
		b.StopTimer()
		wall += time.Since(start)
		cpu += serverCPU(b, pm) - cpu0
		must(b, err)
		must(b, tx.Rollback())
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "pg-cpu-s/op")
	b.ReportMetric(wall.Seconds()/float64(b.N), "pg-wall-s/op")
}

// postmaster returns the process id of db's server, which must run on
// this machine: the parent of a backend.
func postmaster(b testing.TB, db *sql.DB) int {
	b.Helper()
	var pid int
	must(b, db.QueryRow(`SELECT pg_backend_pid()`).Scan(&pid))
	pm, _ := strconv.Atoi(procStat(b, pid)[3])
	return pm
}

// serverCPU is the CPU time used so far by the PostgreSQL server whose
// postmaster is pm: the postmaster, every live child and every child it
// has reaped (backends that ended, parallel workers).
func serverCPU(b testing.TB, pm int) time.Duration {
	b.Helper()
	total := 0
	pmf := procStat(b, pm)
	for _, i := range []int{13, 14, 15, 16} {
		n, _ := strconv.Atoi(pmf[i])
		total += n
	}
	entries, err := os.ReadDir("/proc")
	must(b, err)
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		g := statFields(string(st))
		if pp, _ := strconv.Atoi(g[3]); pp != pm || p == pm {
			continue
		}
		for _, i := range []int{13, 14} {
			n, _ := strconv.Atoi(g[i])
			total += n
		}
	}
	return time.Duration(total) * time.Second / 100 // clock ticks (USER_HZ 100)
}

func procStat(b testing.TB, pid int) []string {
	b.Helper()
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatalf("the PostgreSQL server must run on this machine: %v", err)
	}
	return statFields(string(st))
}

// statFields splits /proc/PID/stat into its fields, field 0 the pid; the
// command name, in parentheses, may hold spaces.
func statFields(st string) []string {
	i := strings.LastIndexByte(st, ')')
	return append([]string{"pid", "comm"}, strings.Fields(st[i+1:])...)
}
