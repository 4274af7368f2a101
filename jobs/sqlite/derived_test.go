package sqlite

import (
	"context"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/storetest"
	"github.com/tierflow/tierflow/rules"
)

// derivedHandWritten is storetest.DerivedRules' derived facts in SQL
// written by hand: times as seconds since 1970 (unixepoch), windows as
// the as-of ($1, in those seconds) minus whole days of seconds.
const derivedHandWritten = `
WITH p AS (SELECT $1 AS asof),
o AS (SELECT customer_id, unixepoch(at, 'subsec') AS t, total, qty, cat FROM orders)
SELECT CAST(f.customer_id AS TEXT),
  COALESCE(SUM(o.total) FILTER (WHERE o.t > p.asof - 365 * 86400 AND o.t <= p.asof), 0),
  COALESCE(SUM(o.total) FILTER (WHERE o.t > p.asof - 730 * 86400 AND o.t <= p.asof - 365 * 86400), 0),
  COALESCE(SUM(o.qty) FILTER (WHERE o.t > p.asof - 30 * 86400 AND o.t <= p.asof), 0),
  COUNT(o.t) FILTER (WHERE o.t > p.asof - 365 * 86400 AND o.t <= p.asof),
  COUNT(o.t) FILTER (WHERE o.cat IN ('books', 'music') AND o.t <= p.asof),
  MAX(o.total) FILTER (WHERE o.cat = 'toys' AND o.t <= p.asof),
  MIN(o.total) FILTER (WHERE o.t > p.asof - 90 * 86400 AND o.t <= p.asof),
  AVG(o.total) FILTER (WHERE o.t <= p.asof),
  MIN(o.t) FILTER (WHERE o.t <= p.asof),
  MAX(o.t) FILTER (WHERE o.t > p.asof - 730 * 86400 AND o.t <= p.asof),
  (MAX(o.t) FILTER (WHERE o.t <= p.asof) - MIN(o.t) FILTER (WHERE o.t <= p.asof)) / 86400.0
    / NULLIF(COUNT(o.t) FILTER (WHERE o.t <= p.asof) - 1, 0)
FROM p CROSS JOIN customer_facts f LEFT JOIN o ON o.customer_id = f.customer_id
GROUP BY f.customer_id`

// derivedBackend is a migrated store on a new file, opened a second time
// as another database.
func derivedBackend(t *testing.T) storetest.DerivedBackend {
	path := filepath.Join(t.TempDir(), "tierflow.db")
	s := openStore(t, path, nil).Store
	if _, err := s.Migrate(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	other, err := OpenDatabase(context.Background(), path, "warehouse")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return storetest.DerivedBackend{
		Store:     s,
		Other:     func(q string) jobs.FactsSource { return other.Source(q) },
		FactsDDL:  `CREATE TABLE customer_facts (customer_id INTEGER PRIMARY KEY, channel TEXT NOT NULL)`,
		OrdersDDL: `CREATE TABLE orders (customer_id INTEGER NOT NULL, at TEXT, total REAL, qty REAL, cat TEXT)`,
		HandWritten: func(t testing.TB, s storetest.Store, asOf time.Time) map[string][]any {
			return storetest.ScanDerived(t, s, derivedHandWritten, []any{float64(asOf.UnixMilli()) / 1000}, storetest.ScanTimeValue)
		},
	}
}

// On SQLite, tierflow's aggregate, its streaming pass and the SQL above
// give every customer the same derived facts.
func TestDerivedConformance(t *testing.T) {
	t.Parallel()
	storetest.RunDerived(t, derivedBackend)
}

// On SQLite, where a column holds any value, a transaction whose time or
// amount does not read is its customer's error, in the aggregate as in
// the streaming pass; the other customers are derived as usual.
func TestDerivedBadTransactions(t *testing.T) {
	t.Parallel()
	b := derivedBackend(t)
	ctx := context.Background()
	for _, q := range []string{b.FactsDDL, b.OrdersDDL,
		`INSERT INTO customer_facts VALUES (1, 'online'), (2, 'online'), (3, 'online')`,
		`INSERT INTO orders VALUES (1, '2024-06-01', 10, NULL, NULL), (1, 'n/a', 5, NULL, NULL), (2, '2024-06-02', 'abc', NULL, NULL), (3, '2024-06-03T10:00:00+08:00', ' 7.5 ', NULL, NULL)`,
	} {
		if _, err := b.Store.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := rules.Compile("shop.yaml", []byte(storetest.DerivedRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, tx := range map[string]jobs.FactsSource{"aggregate": b.Store.Source("orders"), "stream": b.Other("orders")} {
		facts := jobs.Sources{{Name: jobs.PrimarySource, Facts: b.Store.Source("customer_facts"), Transactions: tx}}
		for key, want := range map[string]string{"1": `time|"n/a"`, "2": `not a number|"abc"`} {
			c, err := jobs.FindCustomer(ctx, b.Store, facts, rs, key, jobs.At(storetest.DerivedAsOf))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.FactErrors) != 1 || c.FactErrors[0].Fact != "spend_12m" || !regexp.MustCompile(want).MatchString(c.FactErrors[0].Err.Error()) {
				t.Errorf("%s: customer %s: fact errors %v, want one on spend_12m about %q", name, key, c.FactErrors, want)
			}
		}
		c, err := jobs.FindCustomer(ctx, b.Store, facts, rs, "3", jobs.At(storetest.DerivedAsOf))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.FactErrors) != 0 || c.Facts[1] != 7.5 {
			t.Errorf("%s: customer 3: %v %v", name, c.Facts, c.FactErrors)
		}
	}
}
