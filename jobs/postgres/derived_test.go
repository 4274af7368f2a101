package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// derivedHandWritten is storetest.DerivedRules' derived facts in SQL
// written by hand: windows by interval arithmetic on the as-of ($1),
// in hours so that they are instants whatever the session's zone.
const derivedHandWritten = `
WITH p AS (SELECT $1::timestamptz AS asof)
SELECT f.customer_id::text,
  COALESCE(SUM(o.total) FILTER (WHERE o.at > p.asof - interval '8760 hours' AND o.at <= p.asof), 0),
  COALESCE(SUM(o.total) FILTER (WHERE o.at > p.asof - interval '17520 hours' AND o.at <= p.asof - interval '8760 hours'), 0),
  COALESCE(SUM(o.qty) FILTER (WHERE o.at > p.asof - interval '720 hours' AND o.at <= p.asof), 0),
  COUNT(o.at) FILTER (WHERE o.at > p.asof - interval '8760 hours' AND o.at <= p.asof),
  COUNT(o.at) FILTER (WHERE o.cat IN ('books', 'music') AND o.at <= p.asof),
  MAX(o.total) FILTER (WHERE o.cat = 'toys' AND o.at <= p.asof),
  MIN(o.total) FILTER (WHERE o.at > p.asof - interval '2160 hours' AND o.at <= p.asof),
  AVG(o.total) FILTER (WHERE o.at <= p.asof),
  MIN(o.at) FILTER (WHERE o.at <= p.asof),
  MAX(o.at) FILTER (WHERE o.at > p.asof - interval '17520 hours' AND o.at <= p.asof),
  EXTRACT(EPOCH FROM MAX(o.at) FILTER (WHERE o.at <= p.asof) - MIN(o.at) FILTER (WHERE o.at <= p.asof))::float8 / 86400
    / NULLIF(COUNT(o.at) FILTER (WHERE o.at <= p.asof) - 1, 0)
FROM p CROSS JOIN customer_facts f LEFT JOIN orders o ON o.customer_id = f.customer_id
GROUP BY f.customer_id`

// derivedBackend is a migrated store on a fresh database, with a second
// connection to it as another database.
func derivedBackend(t *testing.T) storetest.DerivedBackend {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx, false); err != nil {
		t.Fatal(err)
	}
	other, err := postgres.OpenDatabase(ctx, url, "warehouse")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return storetest.DerivedBackend{
		Store:     s,
		Other:     func(q string) jobs.FactsSource { return other.Source(q) },
		FactsDDL:  `CREATE TABLE customer_facts (customer_id bigint PRIMARY KEY, channel text NOT NULL)`,
		OrdersDDL: `CREATE TABLE orders (customer_id bigint NOT NULL, at timestamptz, total double precision, qty double precision, cat text)`,
		HandWritten: func(t testing.TB, s storetest.Store, asOf time.Time) map[string][]any {
			return storetest.ScanDerived(t, s, derivedHandWritten, []any{asOf}, storetest.ScanTimeValue)
		},
	}
}

// On PostgreSQL, tierflow's aggregate, its streaming pass and the SQL
// above give every customer the same derived facts.
func TestDerivedConformance(t *testing.T) {
	t.Parallel()
	storetest.RunDerived(t, derivedBackend)
}
