package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

// reportBenchNights is a year of nightly runs.
const reportBenchNights = 365

// reportBenchStart is the as-of of the first night.
var reportBenchStart = time.Date(2024, 1, 1, 2, 0, 0, 0, time.UTC)

// BenchmarkClassReport times the class report of a year of nightly runs
// of the retail example on PostgreSQL, for TIERFLOW_BENCH_CUSTOMERS
// customers (default 1,000,000): 365 run records whose stored reports
// are what such runs store (three segmentations with drifting sizes,
// moves, churn counts and coverage), and a year of the queue, 2% of the
// customers a night (20,000 actions for a million; 7.3 million rows)
// with their statuses, outcomes and segments, beside the segment syncs
// and a history of 1% of the customers moving each night. Setup writes
// them with SQL, without running the applies; it takes about four and a
// half minutes for a million customers. Each iteration builds the whole
// year's report, without and with the effects report (which counts, in
// the database, each customer's first win-back call of the period and
// the moves after it):
//
//	go test -run '^$' -bench 'BenchmarkClassReport$' -benchtime 2x -timeout 0 ./jobs/postgres/
//	TIERFLOW_BENCH_CUSTOMERS=100000 go test -run '^$' -bench 'ClassReport$' ./jobs/postgres/
//
// The period=90d and period=30d runs read the last 90 and 30 days only.
// TIERFLOW_BENCH_EXPLAIN=1 logs the plan of the year's queue counts (run
// with -v to see it).
//
// TIERFLOW_BENCH_REPORT_DB=URL runs on that existing database instead of
// a throwaway one, and keeps it: a run on an empty database fills it,
// later runs with the same number of customers reuse the year and skip
// the setup, and a database with any other tierflow schema in it is
// refused. It is meant for profiling on a server of your own (one
// started with pg_ctl on 127.0.0.1, say), e.g. with -cpuprofile, or with
// EXPLAIN ANALYZE from psql between runs.
func BenchmarkClassReport(b *testing.B) {
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
	benchClassReport(b, n)
}

// BenchmarkClassReportSmall is BenchmarkClassReport for a shop of 10,000
// customers (73,000 actions), which sets up in a few seconds.
func BenchmarkClassReportSmall(b *testing.B) { benchClassReport(b, 10_000) }

func benchClassReport(b *testing.B, n int) {
	ctx := context.Background()
	url, keep := os.Getenv(benchReportDBEnv), true
	if url == "" {
		url, keep = pgtest.URL(b), false
	}
	st, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	filled := keep && reportBenchFilled(ctx, b, st, n)
	if _, err := st.Migrate(ctx, false); err != nil {
		b.Fatal(err)
	}
	src, err := os.ReadFile("../../examples/retail/retail.yaml")
	if err != nil {
		b.Fatal(err)
	}
	// The example as written: with its holdout and costs, unlike retail().
	rs, err := rules.Compile("retail.yaml", src, rules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if !filled {
		setup := time.Now()
		fillReportBench(ctx, b, st, rs, n)
		b.Logf("setup: a year of %d customers in %v", n, time.Since(setup).Round(time.Millisecond))
	}
	// What the nightly applies would have kept: the effect profiles of
	// the year, caught up in one Maintain (a month per transaction).
	maintain := time.Now()
	if err := st.Maintain(ctx, rs); err != nil {
		b.Fatal(err)
	}
	b.Logf("maintain: %v", time.Since(maintain).Round(time.Millisecond))
	if os.Getenv("TIERFLOW_BENCH_EXPLAIN") != "" {
		explainActionCounts(ctx, b, st)
	}
	end := reportBenchStart.AddDate(0, 0, reportBenchNights)
	for _, tc := range []struct {
		name    string
		from    time.Time
		effects bool
	}{
		{"period=year", reportBenchStart.AddDate(0, 0, -1), false},
		{"period=year/effects", reportBenchStart.AddDate(0, 0, -1), true},
		{"period=90d", end.AddDate(0, 0, -90), false},
		{"period=90d/effects", end.AddDate(0, 0, -90), true},
		{"period=30d", end.AddDate(0, 0, -30), false},
	} {
		b.Run(fmt.Sprintf("customers=%d/%s", n, tc.name), func(b *testing.B) {
			opts := jobs.ClassReportOptions{From: tc.from, Until: end, Effects: tc.effects}
			b.ReportAllocs()
			for b.Loop() {
				rep, err := jobs.BuildClassReport(ctx, st, rs, opts)
				if err != nil {
					b.Fatal(err)
				}
				checkReportBench(b, rep, tc.effects)
			}
		})
	}
}

// benchReportDBEnv names the database BenchmarkClassReport keeps its
// year in between runs.
const benchReportDBEnv = "TIERFLOW_BENCH_REPORT_DB"

// reportBenchFilled reports whether the kept database holds the year of
// n customers a previous run wrote; it refuses one with another
// tierflow schema in it, which setup would add to.
func reportBenchFilled(ctx context.Context, b *testing.B, st *postgres.Store, n int) bool {
	b.Helper()
	var schema bool
	if err := st.DB().QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'tierflow')`).Scan(&schema); err != nil {
		b.Fatal(err)
	}
	if !schema {
		return false
	}
	var runs, actions int64
	if err := st.DB().QueryRowContext(ctx, `SELECT (SELECT count(*) FROM tierflow.runs WHERE ruleset = 'retail'),
		(SELECT count(*) FROM tierflow.actions WHERE ruleset = 'retail' AND action NOT LIKE 'sync.%')`).Scan(&runs, &actions); err != nil {
		b.Fatal(err)
	}
	if runs != reportBenchNights || actions != int64(n/50*reportBenchNights) {
		b.Fatalf("%s holds %d runs and %d actions, not the year of %d customers: give an empty database", benchReportDBEnv, runs, actions, n)
	}
	return true
}

// checkReportBench: the report holds what setup wrote.
func checkReportBench(b *testing.B, rep *jobs.ClassReport, effects bool) {
	b.Helper()
	var actions int64
	for _, a := range rep.Actions {
		if a.Segmentation == "value_tier" {
			actions += a.Count
		}
	}
	if len(rep.Runs) == 0 || len(rep.Sizes) == 0 || len(rep.Moves) == 0 || rep.Churn == nil || len(rep.Churn.Rates) == 0 ||
		len(rep.Coverage) == 0 || actions == 0 || effects != (rep.Effects != nil) || effects && len(rep.Effects.Effects) == 0 {
		b.Fatalf("report of %d runs, %d sizes, %d moves, %d actions, churn %v, effects %v", len(rep.Runs), len(rep.Sizes),
			len(rep.Moves), actions, rep.Churn != nil, rep.Effects != nil)
	}
}

// fillReportBench writes the year: the run record, the queue and the
// history, then ANALYZEs.
func fillReportBench(ctx context.Context, b *testing.B, st *postgres.Store, rs *rules.RuleSet, n int) {
	b.Helper()
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	for night := range reportBenchNights {
		at := reportBenchStart.AddDate(0, 0, night)
		rep := benchReport(rs, n, night)
		detail, err := json.Marshal(rep)
		if err != nil {
			b.Fatal(err)
		}
		status := jobs.StatusSucceeded
		if night%90 == 45 {
			status = jobs.StatusBlocked
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tierflow.runs (id, ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at,
				customers, changed, actions, errors, detail)
			VALUES ($1, 'retail', $2, 'scheduled', $3, $3, $4, $5, $6, $7, $8, $9, 0, $10)`,
			night+1, rs.Hash, at, string(status), at.Add(time.Second), at.Add(40*time.Second), rep.Customers, rep.Changed,
			rep.ActionsTotal, string(detail)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	// Night by night, as applies write them: the tables are in time
	// order, as a year of nights leaves them.
	for night := range reportBenchNights {
		for _, q := range []string{reportBenchActions, reportBenchSyncs, reportBenchHistory} {
			if _, err := st.DB().ExecContext(ctx, q, reportBenchStart, n, night); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
	}
	for _, q := range []string{`SELECT setval('tierflow.runs_id_seq', 1000)`, `ANALYZE tierflow.runs`, `ANALYZE tierflow.actions`, `ANALYZE tierflow.history`} {
		if _, err := st.DB().ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

// The queue of night $3 of a year from $1 of $2 customers: 2% of the
// customers, in 60 classes (value tier, lifecycle and source as
// the retail example's shares have them). winback_call holds 10% out;
// a follow-up older than a week is finished (done with an outcome,
// failed, dead), suppressed or cancelled, one of the year's last week
// (reportBenchNights is 365) still pending or claimed.
const reportBenchActions = `
INSERT INTO tierflow.actions (ruleset, action, customer_key, payload, priority, status, created_at, due_at, attempts,
    idempotency_key, run_id, outcome, outcome_at, segments)
SELECT 'retail', a.action, 'c' || lpad(((i * 7919) % $2)::text, 7, '0'),
    jsonb_build_object('owner', 'account_manager', 'tier', v.tier, 'reason', 'Spend fell 52% on last year'), a.priority,
    s.status, $1::timestamptz + night * interval '1 day', $1::timestamptz + night * interval '1 day' + interval '1 day',
    CASE WHEN s.status IN ('done', 'failed', 'dead') THEN 1 ELSE 0 END,
    'retail/' || i, 1 + night,
    CASE WHEN s.status = 'done' AND a.action IN ('winback_call', 'vip_care_visit', 'account_review')
        THEN (ARRAY['reached', 'declined', 'no_answer'])[1 + i % 3] END,
    CASE WHEN s.status = 'done' THEN $1::timestamptz + night * interval '1 day' + interval '2 days' END,
    jsonb_build_object('value_tier', v.tier, 'lifecycle', l.stage, 'source', c.channel)
FROM (SELECT i, $3::int AS night FROM generate_series($2::bigint / 50 * $3, $2::bigint / 50 * ($3 + 1) - 1) i) g
CROSS JOIN LATERAL (SELECT (ARRAY['winback_call', 'onboarding_message', 'vip_care_visit', 'account_review'])[1 + (i / 7) % 4] AS action,
    (ARRAY[1, 5, 2, 3])[1 + (i / 7) % 4] AS priority) a
CROSS JOIN LATERAL (SELECT CASE WHEN i % 100 < 2 THEN 'vip' WHEN i % 100 < 10 THEN 'key' WHEN i % 100 < 45 THEN 'regular' ELSE 'small' END AS tier) v
CROSS JOIN LATERAL (SELECT (ARRAY['churned', 'new', 'won_back', 'at_risk', 'active', 'active', 'active', 'at_risk'])[1 + (i / 3) % 8] AS stage) l
CROSS JOIN LATERAL (SELECT (ARRAY['online', 'online', 'store', 'other'])[1 + (i / 11) % 4] AS channel) c
CROSS JOIN LATERAL (SELECT CASE
    WHEN a.action = 'winback_call' AND i % 10 = 0 THEN 'held_out'
    WHEN i % 20 = 1 THEN 'suppressed'
    WHEN g.night >= 358 THEN (ARRAY['pending', 'pending', 'pending', 'claimed'])[1 + i % 4]
    WHEN i % 50 = 2 THEN 'cancelled'
    WHEN i % 33 = 3 THEN 'failed'
    WHEN i % 97 = 4 THEN 'dead'
    ELSE 'done' END AS status) s`

// The segment syncs of night $3: 0.2% of the customers, no segments.
const reportBenchSyncs = `
INSERT INTO tierflow.actions (ruleset, action, customer_key, payload, status, created_at, due_at, idempotency_key, run_id, destination)
SELECT 'retail', 'sync.lifecycle', 'c' || lpad(((i * 104729) % $2)::text, 7, '0'),
    '{"segmentation": "lifecycle", "from": "active", "to": "at_risk"}', 'done',
    $1::timestamptz + $3::int * interval '1 day', $1::timestamptz + $3::int * interval '1 day', 'sync/' || i, 1 + $3::int, 'crm'
FROM generate_series($2::bigint / 500 * $3, $2::bigint / 500 * ($3 + 1) - 1) i`

// The history of night $3: 1% of the customers move, in one of the
// three segmentations.
const reportBenchHistory = `
INSERT INTO tierflow.history (ruleset, segmentation, customer_key, from_segment, to_segment, matched, reason, as_of, run_id)
SELECT 'retail', m.seg, 'c' || lpad(((i * 15485863) % $2)::text, 7, '0'), m.from_seg, m.to_seg, m.to_seg, 'matched',
    $1::timestamptz + $3::int * interval '1 day', 1 + $3::int
FROM generate_series($2::bigint / 100 * $3, $2::bigint / 100 * ($3 + 1) - 1) i
CROSS JOIN LATERAL (SELECT * FROM (VALUES
    (0, 'value_tier', 'regular', 'small'), (1, 'value_tier', 'small', 'regular'), (2, 'lifecycle', 'active', 'at_risk'),
    (3, 'lifecycle', 'at_risk', 'churned'), (4, 'lifecycle', 'at_risk', 'active'), (5, 'source', 'online', 'store')) v(k, seg, from_seg, to_seg)
    WHERE k = i % 6) m`

// benchReport is the report night's run stores: class sizes that drift
// over the year, moves between neighbouring classes, churn counts and
// the coverage of vip and key.
func benchReport(rs *rules.RuleSet, n, night int) *jobs.PlanReport {
	asOf := reportBenchStart.AddDate(0, 0, night)
	rep := &jobs.PlanReport{FormatVersion: jobs.ReportFormatVersion, Mode: "apply", RuleSet: rs.Name, RuleSetLabel: rs.Label,
		RulesHash: rs.Hash, AsOf: asOf, Initial: night == 0, Customers: n, Errors: jobs.ErrorReport{ByRule: map[string]int{}, Examples: []jobs.ErrorExample{}},
		Samples: []jobs.SampleReport{}}
	drift := 1 + 0.1*math.Sin(float64(night)/58)
	shares := map[string][]float64{"value_tier": {0.02 * drift, 0.08, 0.35}, "lifecycle": {0.3 / drift, 0.05, 0.01, 0.1 * drift}, "source": {0.5, 0.3}}
	moved := n / 100
	for _, s := range rs.Segmentations {
		sr := jobs.SegmentationReport{Name: s.Name, Label: s.Label, Moved: moved / 3}
		rest := n
		for k, seg := range s.Segments {
			after := rest
			if k < len(shares[s.Name]) {
				after = int(float64(n) * shares[s.Name][k])
			}
			rest -= after
			before := after + (night%7-3)*n/10000
			churned := before / 300
			if s.Name == "lifecycle" && seg.Name == "churned" {
				churned = 0
			}
			sr.Segments = append(sr.Segments, jobs.SegmentReport{Name: seg.Name, Label: seg.Label, Before: before, After: after, Churned: &churned})
			if k > 0 {
				sr.Moves = append(sr.Moves, jobs.MoveReport{From: s.Segments[k-1].Name, To: seg.Name, Count: moved / 10},
					jobs.MoveReport{From: seg.Name, To: s.Segments[k-1].Name, Count: moved / 12})
			}
		}
		sr.Moves = append(sr.Moves, jobs.MoveReport{From: "", To: s.Segments[len(s.Segments)-1].Name, Count: n / 2000})
		rep.Segmentations = append(rep.Segmentations, sr)
		rep.Changed += sr.Moved
	}
	for _, a := range rs.Actions {
		rep.Actions = append(rep.Actions, jobs.ActionReport{Name: a.Name, Label: a.Label, Count: n / 200, HeldOut: n / 2000, Suppressed: n / 1000})
		rep.ActionsTotal += n / 200
	}
	for _, seg := range []string{"vip", "key"} {
		due := rep.Segmentations[0].Segments[0].After
		if seg == "key" {
			due = rep.Segmentations[0].Segments[1].After
		}
		rep.Coverage = append(rep.Coverage, jobs.CoverageReport{Segmentation: "value_tier", Segment: seg, EveryDays: 28,
			By: []string{"account_review", "vip_care_visit"}, Counts: []string{"reached"}, Due: due, Covered: due * 7 / 10,
			Pending: due / 10, Overdue: due - due*7/10 - due/10, Share: 0.7})
	}
	for k := range 10 {
		rep.Samples = append(rep.Samples, jobs.SampleReport{Customer: fmt.Sprintf("c%07d", k*7919%n), Segmentation: "lifecycle",
			From: "active", To: "at_risk", Reason: "matched at_risk: spend_prev_12m > 0 && spend_12m < spend_prev_12m * 0.5"})
	}
	return rep
}

// explainActionCounts logs the plan of the queue's counts for the year,
// as PostgreSQL runs it (TIERFLOW_BENCH_EXPLAIN=1).
func explainActionCounts(ctx context.Context, b *testing.B, st *postgres.Store) {
	b.Helper()
	rows, err := st.DB().QueryContext(ctx, `EXPLAIN (ANALYZE, BUFFERS) SELECT action, status, segments::text, count(*)
		FROM tierflow.actions WHERE ruleset = $1 AND created_at >= $2 AND created_at <= $3 AND action NOT LIKE 'sync.%'
		GROUP BY action, status, segments::text`, "retail", reportBenchStart.AddDate(0, 0, -1), reportBenchStart.AddDate(0, 0, reportBenchNights))
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			b.Fatal(err)
		}
		b.Log(line)
	}
}
