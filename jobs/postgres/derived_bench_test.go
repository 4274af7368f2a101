package postgres_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

// derivedBenchRules derives retail's 12-month facts from the orders;
// extra adds derived facts after them and pop a segmentation reading
// them.
func derivedBenchRules(b testing.TB, extra, seg string) *rules.RuleSet {
	src := `ruleset: bench
transactions: {time: ordered_at, amount: amount}
facts:
  channel: string
derived:
  spend_12m: sum(amount, last 365d)
  spend_prev_12m: sum(amount, 365d..730d before)
  orders_12m: count(last 365d)
  first_order_at: first()
  last_order_at: last()
` + extra + `segmentations:
  - name: value_tier
    segments:
      - name: vip
        when: spend_12m >= 50000 && orders_12m >= 6
      - name: key
        when: spend_12m >= 10000
      - name: small
        fallback: true
  - name: lifecycle
    segments:
      - name: churned
        when: is_null(last_order_at) || days_since(last_order_at) > 365
      - name: new
        when: days_since(first_order_at) <= 90
      - name: at_risk
        when: spend_prev_12m > 0 && spend_12m < spend_prev_12m / 2 && channel != ""
      - name: active
        fallback: true
` + seg
	rs, err := rules.Compile("bench.yaml", []byte(src), rules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return rs
}

// The derived-fact benchmarks' rule sets: the 12-month facts alone; with
// population facts (a percentile rank, RFM and ABC); and with P(alive).
const (
	popExtra = `  spend_rank: pct_rank(spend_12m)
  rfm: rfm(last_order_at, orders_12m, spend_12m)
  value_class: abc(spend_12m, [0.8, 0.95])
`
	popSeg = `  - name: rfm_segment
    segments:
      - name: champions
        when: rfm_r >= 4 && rfm_f >= 4 && rfm_m >= 4 && value_class == "A" && spend_rank > 0.5
      - name: other
        fallback: true
`
	predExtra = `  p_alive: p_alive()
`
	predSeg = `  - name: risk
    segments:
      - name: quiet
        when: p_alive != nil && p_alive < 0.3
      - name: fine
        fallback: true
`
)

// BenchmarkDerivedFacts times a plan of rule sets whose facts are derived
// from an orders table at each run, on PostgreSQL: the generated retail
// customers (100,000, or TIERFLOW_BENCH_CUSTOMERS) in customers and their
// orders (about 12 a customer, 5 years of them) in orders. Cases:
//
//   - exported: the same rule set on the facts the generator exports
//     with the customers (declared, not derived): the plan without
//     deriving anything, for comparison;
//   - sql: the 12-month facts, the orders on the state database, so one
//     aggregate query computes them;
//   - file: the same with the orders in a CSV file, which tierflow sorts
//     on disk by customer before aggregating;
//   - stream: the same with the orders read from another connection, as
//     another database, so tierflow streams them in key order;
//   - population: the sql case with a percentile rank, RFM and ABC, which
//     take a first pass (and a spill) before the run's;
//   - predicted: population with P(alive), on as many customers who buy
//     as BG/NBD says, with the paper's parameters, for 39 weeks (the
//     fit does not converge on the generator's customers, whose quiet
//     ones come back).
//
// ns/op is the whole plan (read the customers and their state, derive,
// evaluate); hand-written-sql times a hand-written aggregate of the same
// facts alone, for scale; peak-RSS-MB is the process's resident-memory
// high-water mark during the plan. docs/benchmarks.md has the figures:
//
//	TIERFLOW_BENCH_CUSTOMERS=1000000 go test -run '^$' -bench DerivedFacts -benchtime 1x -timeout 0 ./jobs/postgres/
func BenchmarkDerivedFacts(b *testing.B) {
	n := 100_000
	if v := os.Getenv(benchCustomersEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("%s=%q: want a number of customers, at least 1000", benchCustomersEnv, v)
		}
	}
	ctx := context.Background()
	url := pgtest.URL(b)
	s, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx, false); err != nil {
		b.Fatal(err)
	}
	other, err := postgres.OpenDatabase(ctx, url, "warehouse")
	if err != nil {
		b.Fatal(err)
	}
	defer other.Close()
	asOf := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	orders := loadOrders(ctx, b, s, gen.Config{Customers: n, Seed: 1, AsOf: asOf}, "")
	bg := loadBGNBD(ctx, b, s, int64(n), asOf)
	b.Logf("%d customers, %d orders (5 years of the generator's); %d orders (39 weeks of BG/NBD's)", n, orders, bg)
	file := writeOrdersCSV(b, gen.Config{Customers: n, Seed: 1, AsOf: asOf})
	cases := []struct {
		name   string
		rs     *rules.RuleSet
		tx     jobs.FactsSource
		facts  string
		asOf   time.Time
		method string
	}{
		{"exported", exportedBenchRules(b), nil, "customers", asOf, ""},
		{"sql", derivedBenchRules(b, "", ""), s.Source("orders"), "customers", asOf, jobs.DerivedSQL},
		{"file", derivedBenchRules(b, "", ""), file, "customers", asOf, jobs.DerivedStream},
		{"stream", derivedBenchRules(b, "", ""), other.Source("orders"), "customers", asOf, jobs.DerivedStream},
		{"population", derivedBenchRules(b, popExtra, popSeg), s.Source("orders"), "customers", asOf, jobs.DerivedSQL},
		{"predicted", derivedBenchRules(b, popExtra+predExtra, popSeg+predSeg), s.Source("orders_bgnbd"), "customers_bgnbd", asOf, jobs.DerivedSQL},
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("%s/customers=%d", c.name, n), func(b *testing.B) {
			facts := jobs.Sources{{Name: jobs.PrimarySource, Facts: s.Source(c.facts), Transactions: c.tx}}
			if c.tx == nil {
				facts[0].Transactions = nil
			}
			var peak int64
			for b.Loop() {
				resetPeakRSS(b)
				out, err := jobs.Plan(ctx, s, facts, c.rs, jobs.Options{AsOf: c.asOf})
				if err != nil {
					b.Fatal(err)
				}
				peak = max(peak, readPeakRSS(b))
				if d := out.Report.Derived; (c.method != "" && (d == nil || d.Method != c.method)) || out.Report.Customers < n {
					b.Fatalf("plan: %d customers, derived %+v", out.Report.Customers, d)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MB")
		})
	}
	b.Run(fmt.Sprintf("hand-written-sql/customers=%d", n), func(b *testing.B) {
		for b.Loop() {
			if rows := handWrittenAggregate(ctx, b, s, asOf); rows < int64(n)*9/10 {
				b.Fatalf("%d rows", rows)
			}
		}
	})
}

// handWrittenAggregate reads the 12-month facts of every customer with
// orders, aggregated by hand in one query, to the client; it returns the
// number of rows.
func handWrittenAggregate(ctx context.Context, b *testing.B, s *postgres.Store, asOf time.Time) int64 {
	rows, err := s.DB().QueryContext(ctx, `SELECT customer_id::text,
  COALESCE(SUM(amount) FILTER (WHERE ordered_at > $1::timestamptz - interval '8760 hours'), 0)::float8,
  COALESCE(SUM(amount) FILTER (WHERE ordered_at > $1::timestamptz - interval '17520 hours' AND ordered_at <= $1::timestamptz - interval '8760 hours'), 0)::float8,
  COUNT(*) FILTER (WHERE ordered_at > $1::timestamptz - interval '8760 hours'),
  MIN(ordered_at), MAX(ordered_at)
FROM orders WHERE ordered_at <= $1 GROUP BY customer_id ORDER BY customer_id::text COLLATE "C"`, asOf)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var n int64
	var key string
	var spend, prev float64
	var count int64
	var first, last time.Time
	for rows.Next() {
		if err := rows.Scan(&key, &spend, &prev, &count, &first, &last); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

// exportedBenchRules is derivedBenchRules' rule set on the facts the
// generator exports (customers' own columns): the plan without deriving.
func exportedBenchRules(b testing.TB) *rules.RuleSet {
	rs := derivedBenchRules(b, "", "")
	fields := []rules.Field{{Name: "channel", Type: rules.TypeString}}
	for _, df := range rs.Derived() {
		f := df.Field
		f.Derived = nil
		fields = append(fields, f)
	}
	schema, err := rules.NewSchema(fields)
	if err != nil {
		b.Fatal(err)
	}
	cp := *rs
	cp.Facts = schema
	return &cp
}

// writeOrdersCSV writes cfg's generated orders to a CSV file and returns
// it as a source.
func writeOrdersCSV(b *testing.B, cfg gen.Config) jobs.FactsSource {
	b.Helper()
	orders, err := gen.RetailOrders(cfg)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "orders.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := gen.WriteCSV(f, orders); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	src, err := factsfile.Open(path, "")
	if err != nil {
		b.Fatal(err)
	}
	return src
}

// loadBGNBD fills customers_bgnbd and orders_bgnbd with n customers
// buying as BG/NBD says for the 39 weeks before asOf.
func loadBGNBD(ctx context.Context, b *testing.B, s *postgres.Store, n int64, asOf time.Time) int64 {
	b.Helper()
	if _, err := gen.LoadPostgres(ctx, s.DB().DB, "customers_bgnbd", &bgnbdCustomers{n: n}); err != nil {
		b.Fatal(err)
	}
	m, err := gen.LoadPostgres(ctx, s.DB().DB, "orders_bgnbd", newBGNBDOrders(n, asOf.AddDate(0, 0, -273), asOf))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// loadOrders fills customers and orders (with suffix) with cfg's
// generated customers and orders, and returns the number of orders.
func loadOrders(ctx context.Context, b *testing.B, s *postgres.Store, cfg gen.Config, suffix string) int64 {
	b.Helper()
	customers, err := gen.Retail(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := gen.LoadPostgres(ctx, s.DB().DB, "customers"+suffix, customers); err != nil {
		b.Fatal(err)
	}
	orders, err := gen.RetailOrders(cfg)
	if err != nil {
		b.Fatal(err)
	}
	n, err := gen.LoadPostgres(ctx, s.DB().DB, "orders"+suffix, orders)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "CREATE INDEX ON orders"+suffix+" (customer_id)"); err != nil {
		b.Fatal(err)
	}
	return n
}
