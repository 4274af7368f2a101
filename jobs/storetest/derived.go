package storetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// DerivedRules is the rule set of the derived-facts cases: every
// function over transactions, windows and filters, in a zone with
// daylight saving. A backend's hand-written aggregate computes these
// facts, in this order.
const DerivedRules = `ruleset: shop
timezone: America/New_York
transactions: {time: at, amount: total, quantity: qty, category: cat}
facts:
  channel: string
derived:
  spend_12m: sum(amount, last 365d)
  spend_prev: sum(amount, 365d..730d before)
  items_30d: sum(quantity, last 30d)
  orders_12m: count(last 365d)
  books: 'count(category in ["books", "music"])'
  toys_max: 'max(amount, category = "toys")'
  low_90d: min(amount, last 90d)
  avg_order: avg(amount)
  first_at: first()
  last_at: last(last 730d)
  gap: days_between_orders()
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= 5000 && orders_12m >= 3
      - name: other
        fallback: true
`

// DerivedAsOf is the cases' as-of: midnight in New York.
var DerivedAsOf = time.Date(2024, 7, 1, 4, 0, 0, 0, time.UTC)

// DerivedBackend is one new database of the kind under test, for the
// derived-facts cases.
type DerivedBackend struct {
	// Store is a migrated store on the database.
	Store Store
	// Other is a facts source on the same database opened as another
	// database would be: tierflow streams its transactions rather than
	// aggregating them in SQL.
	Other func(query string) jobs.FactsSource
	// FactsDDL creates customer_facts (customer_id, an integer key;
	// channel, text); OrdersDDL creates orders (customer_id, an integer;
	// at, a time with zone or text; total and qty, floating-point
	// numbers; cat, text), in the backend's dialect.
	FactsDDL, OrdersDDL string
	// HandWritten computes DerivedRules' derived facts at asOf with SQL
	// written by hand, independently of tierflow, for every customer of
	// customer_facts, by key, typed as facts are (float64, int,
	// time.Time in UTC, nil).
	HandWritten func(t testing.TB, s Store, asOf time.Time) map[string][]any
}

// RunDerived runs the derived-facts cases against backends newBackend
// makes: the aggregate tierflow runs on the state database, its
// streaming pass over another database, and the backend's hand-written
// SQL give every customer the same values.
func RunDerived(t *testing.T, newBackend func(t *testing.T) DerivedBackend) {
	t.Run("aggregate, stream and hand-written SQL agree", func(t *testing.T) {
		t.Parallel()
		testDerivedAgree(t, newBackend(t))
	})
}

func testDerivedAgree(t *testing.T, b DerivedBackend) {
	ctx := context.Background()
	db := b.Store.DB()
	for _, ddl := range []string{b.FactsDDL, b.OrdersDDL} {
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			t.Fatal(err)
		}
	}
	insertDerivedData(t, b.Store)
	rs, err := rules.Compile("shop.yaml", []byte(DerivedRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := b.HandWritten(t, b.Store, DerivedAsOf)
	if len(want) != derivedCustomers {
		t.Fatalf("the hand-written aggregate has %d customers, want %d", len(want), derivedCustomers)
	}
	sql, method := derivedOf(t, b.Store, jobs.Sources{{Name: jobs.PrimarySource, Facts: b.Store.Source("customer_facts"), Transactions: b.Store.Source("orders")}}, rs)
	if method != jobs.DerivedSQL {
		t.Errorf("transactions on the state database were computed by %q, want %q", method, jobs.DerivedSQL)
	}
	stream, method := derivedOf(t, b.Store, jobs.Sources{{Name: jobs.PrimarySource, Facts: b.Store.Source("customer_facts"), Transactions: b.Other("SELECT * FROM orders")}}, rs)
	if method != jobs.DerivedStream {
		t.Errorf("transactions on another database were computed by %q, want %q", method, jobs.DerivedStream)
	}
	names := rs.Facts.Names()[1:]
	for key, w := range want {
		if !reflect.DeepEqual(sql[key], stream[key]) {
			t.Errorf("customer %s: the SQL aggregate gives %v, the streaming pass %v", key, sql[key], stream[key])
		}
		g := sql[key]
		if len(g) != len(w) {
			t.Errorf("customer %s: tierflow gives %v, the hand-written SQL %v", key, g, w)
			continue
		}
		for i := range w {
			if !sameDerived(g[i], w[i]) {
				t.Errorf("customer %s: tierflow gives %s = %#v, the hand-written SQL %#v", key, names[i], g[i], w[i])
			}
		}
	}
	if len(sql) != len(want) || len(stream) != len(want) {
		t.Errorf("tierflow gives %d and %d customers, the hand-written SQL %d", len(sql), len(stream), len(want))
	}
}

// sameDerived compares a derived fact with the hand-written SQL's: equal,
// or, for a number that is not a sum of quarters (days_between_orders,
// which SQL divides in another order), within 1e-12 of it.
func sameDerived(got, want any) bool {
	g, ok1 := got.(float64)
	w, ok2 := want.(float64)
	if !ok1 || !ok2 {
		return reflect.DeepEqual(got, want)
	}
	return math.Abs(g-w) <= 1e-12*math.Max(1, math.Abs(w))
}

// derivedCustomers is the number of customers in customer_facts: keys 0
// to 79 of the 100 that have transactions, and 80 to 89, which have none.
const derivedCustomers = 90

// insertDerivedData fills customer_facts and orders with the same data on
// every backend: transactions in quarters of a unit (so that every sum is
// exact), some amounts and quantities null, times with the offsets of
// three zones and milliseconds, some exactly on a window's edge or after
// the as-of.
func insertDerivedData(t testing.TB, s Store) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	for k := 0; k < derivedCustomers; k++ {
		if _, err := tx.ExecContext(ctx, `INSERT INTO customer_facts (customer_id, channel) VALUES ($1, $2)`, k, "online"); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(15, 2024))
	zones := []*time.Location{time.UTC, time.FixedZone("", 8*3600), time.FixedZone("", -5*3600)}
	cats := []any{"books", "music", "toys", "food", nil}
	edges := []time.Duration{0, 365 * 24 * time.Hour, 730 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour, -time.Millisecond}
	for i := 0; i < 4000; i++ {
		key := r.IntN(100)
		if key >= 80 && key < 90 {
			key += 10 // 80 to 89 have facts and no transactions, 90 to 99 the reverse
		}
		at := DerivedAsOf.Add(-time.Duration(r.Int64N(int64(800*24*time.Hour))) + 20*24*time.Hour).Truncate(time.Millisecond)
		if r.IntN(12) == 0 {
			at = DerivedAsOf.Add(-edges[r.IntN(len(edges))])
		}
		var total, qty any
		if r.IntN(8) != 0 {
			total = float64(r.IntN(40000)) / 4
		}
		if r.IntN(3) != 0 {
			qty = float64(r.IntN(10))
		}
		text := at.In(zones[r.IntN(len(zones))]).Format("2006-01-02T15:04:05.000Z07:00")
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders (customer_id, at, total, qty, cat) VALUES ($1, $2, $3, $4, $5)`,
			key, text, total, qty, cats[r.IntN(len(cats))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// derivedOf streams the snapshot of rs on facts and returns each
// customer's derived facts, and how the run computed them.
func derivedOf(t testing.TB, s Store, facts jobs.Sources, rs *rules.RuleSet) (map[string][]any, string) {
	t.Helper()
	out := map[string][]any{}
	var method string
	rep, err := jobs.Plan(context.Background(), s, facts, rs, jobs.Options{AsOf: DerivedAsOf})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Report.Derived != nil {
		method = rep.Report.Derived.Method
	}
	snap, err := jobs.OpenSnapshot(context.Background(), s, facts, rs, jobs.At(DerivedAsOf))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if !jobs.ReadsJoined(snap) {
		t.Error("the declared facts, on the state database, are not read joined to the state in one query")
	}
	err = snap.Stream(context.Background(), 16, func(b []engine.Customer) error {
		for _, c := range b {
			if len(c.FactErrors) > 0 {
				return fmt.Errorf("customer %s: %v", c.Key, c.FactErrors)
			}
			out[c.Key] = c.Facts[1:]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, method
}

// ScanDerived runs a backend's hand-written aggregate, query with args,
// whose columns are the customer key as text and then DerivedRules'
// derived facts in order, and types the values as facts are; scanTime
// converts what the query gives for a time.
func ScanDerived(t testing.TB, s Store, query string, args []any, scanTime func(any) (time.Time, error)) map[string][]any {
	t.Helper()
	rs, err := rules.Compile("shop.yaml", []byte(DerivedRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fields := rs.Facts.Fields[1:]
	rows, err := s.DB().QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]any{}
	for rows.Next() {
		vals := make([]any, 1+len(fields))
		dest := make([]any, len(vals))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		row := make([]any, len(fields))
		for i, f := range fields {
			if row[i], err = typed(f.Type, vals[1+i], scanTime); err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
		}
		out[fmt.Sprint(text(vals[0]))] = row
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func text(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

// typed converts a value as drivers return it to a fact of type typ.
func typed(typ rules.Type, v any, scanTime func(any) (time.Time, error)) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case rules.TypeTime:
		t, err := scanTime(v)
		return t.UTC(), err
	case rules.TypeInteger:
		if n, ok := v.(int64); ok {
			return int(n), nil
		}
	case rules.TypeNumber:
		switch x := v.(type) {
		case float64:
			return x + 0, nil
		case int64:
			return float64(x), nil
		}
	}
	return nil, fmt.Errorf("unexpected %v (%T) for a %s", v, v, typ)
}

// ScanTimeValue converts a time as the hand-written aggregates return
// it: a time.Time, or seconds since 1970 (SQLite's unixepoch(t,
// 'subsec'), milliseconds exact).
func ScanTimeValue(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x.UTC(), nil
	case float64:
		return time.UnixMilli(int64(math.Round(x * 1000))).UTC(), nil
	case int64:
		return time.Unix(x, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unexpected %v (%T) for a time", v, v)
}
