package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

// asOf is the evaluation time most tests use.
var asOf = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

const factsDDL = `CREATE TABLE customer_facts (
    customer_id    bigint PRIMARY KEY,
    spend_12m      numeric NOT NULL,
    spend_prev_12m numeric NOT NULL,
    orders_12m     integer NOT NULL,
    first_order_at date NOT NULL,
    last_order_at  timestamptz,
    channel        text NOT NULL
)`

// retail loads the retail example rule set.
func retail(t testing.TB) *rules.RuleSet {
	t.Helper()
	src, err := os.ReadFile("../../examples/retail/retail.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Compile("retail.yaml", src, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// newStore opens a migrated store on a fresh database with a retail
// facts table holding n generated customers.
func newStore(t testing.TB, n int) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := postgres.Open(ctx, postgres.Config{URL: url, Sources: map[string]postgres.Source{"retail": {Query: "customer_facts"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx, false); err != nil {
		t.Fatal(err)
	}
	exec(t, s, factsDDL)
	exec(t, s, `SELECT setseed(0.42)`)
	exec(t, s, `INSERT INTO customer_facts
        SELECT g,
               round((random() ^ 3 * 80000)::numeric, 2),
               round((random() ^ 3 * 80000)::numeric, 2),
               (random() * 12)::int,
               date '2024-07-01' - (random() * 2000)::int,
               CASE WHEN random() < 0.05 THEN NULL ELSE timestamptz '2024-07-01' - (random() * 500)::int * interval '1 day' END,
               (ARRAY['online', 'store', 'partner'])[1 + (g % 3)]
        FROM generate_series(1, $1) AS g`, n)
	return s
}

func exec(t testing.TB, s *postgres.Store, q string, args ...any) {
	t.Helper()
	if _, err := s.DB().Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func count(t testing.TB, s *postgres.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func opts() jobs.Options {
	return jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard, Workers: 2, BatchSize: 100}
}
