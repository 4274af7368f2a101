package sqlexpr_test

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/rules"
	"github.com/tierflow/tierflow/rules/sqlexpr"
)

// Environment variables that configure BenchmarkNextOf: the number of
// customers, and whether to log the plan statement's EXPLAIN ANALYZE.
const (
	benchNextRows    = "TIERFLOW_BENCH_CUSTOMERS"
	benchNextExplain = "TIERFLOW_BENCH_EXPLAIN"
)

// BenchmarkNextOf times what a set-based plan of the churn_signals
// example (which translates whole: check --explain-sql) would ask of
// PostgreSQL, over a table of generated accounts with a previous
// assignment and last-action times: mode=sql-plan groups the customers
// by Bad, previous and new segment and the actions that fire, computed by
// sqlexpr.NextOf in one statement; mode=sql-payloads also builds every
// fired action's payload, as an apply would write it; mode=engine reads
// the same rows through database/sql and evaluates them with
// engine.Evaluate, as tierflow's plan does today (without its state
// joins and report); mode=handwritten is the four segment conditions as
// the plain CASE a person would write, with no stickiness, actions or
// rule errors. Each reports x-handwritten, its ratio to a handwritten
// run timed beside it. Setup checks that the statement's groups equal the
// engine's for every customer it does not mark Bad.
//
//	TIERFLOW_BENCH_CUSTOMERS=1000000 go test -run '^$' -bench NextOf -benchtime 3x -timeout 0 ./rules/sqlexpr/
func BenchmarkNextOf(b *testing.B) {
	n := 100_000
	if v := os.Getenv(benchNextRows); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive number of customers", benchNextRows, v)
		}
	}
	file := filepath.Join("..", "..", "examples", "b2b", "churn_signals.yaml")
	text, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	rs, err := rules.Compile(file, text, rules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	db := pgtest.DB(b)
	db.SetMaxOpenConns(2)
	for _, s := range append([]string{"jit = off"}, sqlexpr.NextSettings...) {
		if _, err := db.Exec("ALTER DATABASE " + pq.QuoteIdentifier(dbName(b, db)) + " SET " + s); err != nil {
			b.Fatal(err)
		}
	}
	db.SetMaxIdleConns(0) // new connections, which read the setting
	db.SetMaxIdleConns(2)
	// On one connection: the seed is the session's.
	conn, err := db.Conn(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{"SELECT setseed(0.17)", fmt.Sprintf(benchNextTable, literal(asOf), n), "VACUUM ANALYZE bench_next"} {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			b.Fatalf("%v\n%s", err, q)
		}
	}
	if err := conn.Close(); err != nil {
		b.Fatal(err)
	}
	scope := func(name string) (sqlexpr.Column, bool) {
		switch name {
		case rules.AsOfVar:
			return sqlexpr.Column{SQL: literal(asOf), Kind: sqlexpr.Time}, true
		case rules.AsOfDateVar:
			return sqlexpr.Column{SQL: literal(rules.DateIn(asOf, rs.Zone())), Kind: sqlexpr.Time}, true
		}
		for _, f := range rs.Facts.Fields {
			if f.Name == name {
				return sqlexpr.Column{SQL: "f." + strconv.Quote(name), Kind: sqlexpr.FactKind(f.Type), Nullable: f.Nullable}, true
			}
		}
		return sqlexpr.Column{}, false
	}
	c := sqlexpr.Customer{Facts: scope, AsOf: literal(asOf),
		State: []sqlexpr.Previous{{Segment: "f.prev_segment", Since: "f.prev_since", PendingSince: "f.prev_pending"}}}
	for k := range rs.Actions {
		c.LastAction = append(c.LastAction, "f.last_"+strconv.Itoa(k))
	}
	next, err := sqlexpr.NextOf(rs, c)
	if err != nil {
		b.Fatal(err)
	}
	s := next.Segmentations[0]
	group := []string{next.Bad, "COALESCE(f.prev_segment, '')", "COALESCE(" + s.Segment + ", '')"}
	var payloads []string
	for _, a := range next.Actions {
		group = append(group, a.Fires)
		payloads = append(payloads, "count("+a.Payload+")")
	}
	cols := make([]string, len(group))
	for i := range group {
		cols[i] = strconv.Itoa(i + 1)
	}
	from := " FROM bench_next f" + next.From
	plan := "SELECT " + strings.Join(group, ", ") + ", count(*)" + from + " GROUP BY " + strings.Join(cols, ", ")
	half := func(p int) string {
		return "SELECT " + strings.Join(group, ", ") + ", count(*)" + from + " WHERE hashtext(f.k::text) & 1 = " + strconv.Itoa(p) + " GROUP BY " + strings.Join(cols, ", ")
	}
	withPayloads := "SELECT " + strings.Join(group, ", ") + ", count(*), " + strings.Join(payloads, ", ") + from + " GROUP BY " + strings.Join(cols, ", ")
	handwritten := fmt.Sprintf(benchNextHandwritten, literal(asOf))

	// The statement's groups against the engine's, customer by customer.
	sqlGroups := map[string]int{}
	bad := 0
	queryGroups(b, db, plan, len(group), func(g []string, count int) {
		if g[0] == "true" {
			bad += count
			return
		}
		sqlGroups[strings.Join(g[1:], " ")] += count
	})
	engineGroups, errs := engineRun(b, db, rs)
	if errs != bad {
		b.Errorf("the statement marks %d customers Bad, the engine reports rule errors for %d", bad, errs)
	}
	if fmt.Sprint(sqlGroups) != fmt.Sprint(engineGroups) {
		b.Fatalf("the statement's groups differ from the engine's:\nSQL    %v\nengine %v", sqlGroups, engineGroups)
	}
	b.Logf("%d customers, %d groups alike, %d left to the engine", n, len(sqlGroups), bad)
	if os.Getenv(benchNextExplain) != "" {
		for _, q := range []string{plan, handwritten} {
			rows, err := db.Query("EXPLAIN (ANALYZE, VERBOSE) " + q)
			if err != nil {
				b.Fatal(err)
			}
			var lines []string
			for rows.Next() {
				var l string
				if err := rows.Scan(&l); err != nil {
					b.Fatal(err)
				}
				if len(l) > 240 {
					l = l[:240] + "..."
				}
				lines = append(lines, l)
			}
			rows.Close()
			b.Logf("EXPLAIN ANALYZE:\n%s", strings.Join(lines, "\n"))
		}
	}

	for _, mode := range []string{"sql-plan", "sql-plan-split2", "sql-payloads", "engine", "handwritten"} {
		b.Run(fmt.Sprintf("mode=%s/customers=%d", mode, n), func(b *testing.B) {
			var own, base time.Duration
			for range b.N {
				start := time.Now()
				queryGroups(b, db, handwritten, 2, func([]string, int) {})
				base += time.Since(start)
				start = time.Now()
				switch mode {
				case "sql-plan":
					queryGroups(b, db, plan, len(group), func([]string, int) {})
				case "sql-plan-split2":
					// Two halves of the customers on two connections at
					// once: the statement does not run in parallel workers.
					var wg sync.WaitGroup
					errs := make([]error, 2)
					for p := range 2 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							var rows *sql.Rows
							if rows, errs[p] = db.Query(half(p)); errs[p] == nil {
								for rows.Next() {
								}
								errs[p] = cmp.Or(rows.Err(), rows.Close())
							}
						}()
					}
					wg.Wait()
					if err := cmp.Or(errs...); err != nil {
						b.Fatal(err)
					}
				case "sql-payloads":
					queryGroups(b, db, withPayloads, len(group), func([]string, int) {})
				case "engine":
					engineRun(b, db, rs)
				case "handwritten":
					queryGroups(b, db, handwritten, 2, func([]string, int) {})
				}
				own += time.Since(start)
			}
			b.ReportMetric(float64(own)/float64(base), "x-handwritten")
			b.ReportMetric(float64(own.Nanoseconds())/float64(b.N)/float64(n), "ns/customer")
		})
	}
}

// benchNextTable makes BenchmarkNextOf's accounts as of %[1]s, %[2]d of
// them: purchases this year and last (none last year for one in five),
// recency, a manager who left for one in five, survey scores for most;
// a previous churn_risk segment for four in five and, for seven in ten,
// last-action times within 200 days.
const benchNextTable = `CREATE TABLE bench_next AS SELECT g AS k,
  (random()*200000)::float8 AS purchases_12m,
  CASE WHEN random() < 0.2 THEN 0 ELSE random()*200000 END::float8 AS purchases_prev_12m,
  CASE WHEN random() < 0.05 THEN NULL ELSE %[1]s - random()*interval '500 days' END AS last_order_at,
  CASE WHEN random() < 0.8 THEN NULL ELSE %[1]s - random()*interval '400 days' END AS account_manager_left_at,
  CASE WHEN random() < 0.2 THEN NULL ELSE 1 + floor(random()*5) END::float8 AS satisfaction_score,
  CASE WHEN random() < 0.4 THEN NULL ELSE 1 + floor(random()*5) END::float8 AS satisfaction_prev,
  p.seg AS prev_segment,
  CASE WHEN p.seg IS NOT NULL THEN %[1]s - random()*interval '200 days' END AS prev_since,
  NULL::timestamptz AS prev_pending,
  CASE WHEN random() < 0.7 THEN NULL ELSE %[1]s - random()*interval '200 days' END AS last_0,
  CASE WHEN random() < 0.7 THEN NULL ELSE %[1]s - random()*interval '200 days' END AS last_1,
  CASE WHEN random() < 0.7 THEN NULL ELSE %[1]s - random()*interval '200 days' END AS last_2,
  CASE WHEN random() < 0.7 THEN NULL ELSE %[1]s - random()*interval '200 days' END AS last_3
FROM generate_series(1, %[2]d) g,
  LATERAL (SELECT (ARRAY['high', 'medium', 'low', 'none', NULL])[1 + floor(random()*5)::int + 0*g] AS seg) p`

// benchNextHandwritten is churn_signals' segment conditions as a person
// would write them at as-of %s, with float day counts and no guards.
const benchNextHandwritten = `SELECT COALESCE(prev_segment, ''), CASE
  WHEN last_order_at IS NULL OR extract(epoch FROM %[1]s - last_order_at) / 86400 > 365
    OR (purchases_prev_12m > 0 AND (purchases_12m - purchases_prev_12m) / purchases_prev_12m * 100 <= -60
      AND ((account_manager_left_at IS NOT NULL AND extract(epoch FROM %[1]s - account_manager_left_at) / 86400 < 91)
        OR satisfaction_prev - satisfaction_score >= 1)) THEN 'high'
  WHEN (purchases_prev_12m > 0 AND (purchases_12m - purchases_prev_12m) / purchases_prev_12m * 100 <= -60)
    OR (account_manager_left_at IS NOT NULL AND extract(epoch FROM %[1]s - account_manager_left_at) / 86400 < 91
      AND satisfaction_prev - satisfaction_score >= 1) THEN 'medium'
  WHEN (purchases_prev_12m > 0 AND (purchases_12m - purchases_prev_12m) / purchases_prev_12m * 100 <= -30)
    OR (account_manager_left_at IS NOT NULL AND extract(epoch FROM %[1]s - account_manager_left_at) / 86400 < 91)
    OR satisfaction_prev - satisfaction_score >= 1 THEN 'low'
  ELSE 'none' END, count(*) FROM bench_next GROUP BY 1, 2`

// queryGroups runs a grouping query whose last column is the count and
// the first n the group, calling each with its group as text.
func queryGroups(b *testing.B, db *sql.DB, q string, n int, each func(group []string, count int)) {
	b.Helper()
	rows, err := db.Query(q)
	if err != nil {
		b.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		g := make([]string, n)
		var count int
		dest := make([]any, len(cols))
		for i := range dest {
			switch {
			case i < n:
				dest[i] = &g[i]
			case i == n:
				dest[i] = &count
			default:
				dest[i] = new(int)
			}
		}
		if err := rows.Scan(dest...); err != nil {
			b.Fatal(err)
		}
		each(g, count)
	}
	if err := rows.Err(); err != nil {
		b.Fatalf("%v\n%s", err, q)
	}
}

// engineRun reads every account and evaluates it with the engine, as
// queryGroups's groups of the plan statement (Bad left out): previous
// and new segment and whether each action is queued; and counts the
// customers with rule errors.
func engineRun(b *testing.B, db *sql.DB, rs *rules.RuleSet) (map[string]int, int) {
	b.Helper()
	rows, err := db.Query(`SELECT k, purchases_12m, purchases_prev_12m, last_order_at, account_manager_left_at, satisfaction_score, satisfaction_prev,
  prev_segment, prev_since, prev_pending, last_0, last_1, last_2, last_3 FROM bench_next`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	e := engine.New(rs)
	groups, errs := map[string]int{}, 0
	var (
		k                int64
		p12, pprev       float64
		lastOrder, left  sql.NullTime
		score, prevScore sql.NullFloat64
		seg              sql.NullString
		since, pending   sql.NullTime
		last             [4]sql.NullTime
		orNil            = func(t sql.NullTime) any { return map[bool]any{true: t.Time}[t.Valid] }
		num              = func(f sql.NullFloat64) any { return map[bool]any{true: f.Float64}[f.Valid] }
		queued           = make([]string, len(rs.Actions))
	)
	for rows.Next() {
		if err := rows.Scan(&k, &p12, &pprev, &lastOrder, &left, &score, &prevScore, &seg, &since, &pending, &last[0], &last[1], &last[2], &last[3]); err != nil {
			b.Fatal(err)
		}
		c := &engine.Customer{Key: strconv.FormatInt(k, 10), Facts: []any{p12, pprev, orNil(lastOrder), orNil(left), num(score), num(prevScore)}}
		if seg.Valid {
			c.State.Segments = []engine.Assignment{{Segment: seg.String, Since: since.Time, PendingSince: pending.Time}}
		}
		c.State.LastActions = []time.Time{last[0].Time, last[1].Time, last[2].Time, last[3].Time}
		res := e.Evaluate(asOf, c)
		if len(res.Errors) > 0 {
			errs++
			continue
		}
		for i, a := range rs.Actions {
			queued[i] = "false"
			for _, q := range res.Actions {
				if q.Name == a.Name {
					queued[i] = "true"
				}
			}
		}
		groups[seg.String+" "+res.Segments[0].Segment+" "+strings.Join(queued, " ")]++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return groups, errs
}

// dbName is the name of db's database.
func dbName(b *testing.B, db *sql.DB) string {
	var name string
	if err := db.QueryRow("SELECT current_database()").Scan(&name); err != nil {
		b.Fatal(err)
	}
	return name
}
