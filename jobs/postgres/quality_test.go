package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

// qualityRules reads a time and an integer fact, neither nullable.
const qualityRules = `ruleset: quality
key: id
facts:
  last_order_at: time
  orders: integer
segmentations:
  - name: recency
    segments:
      - name: recent
        when: days_since(last_order_at) < 90 && orders > 0
      - name: lapsed
        fallback: true
`

func qualityRuleSet(t testing.TB) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("quality.yaml", []byte(qualityRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// newQualityStore is a migrated store on a fresh database with the
// table bad_facts: text dates, numeric orders, and in them 'n/a' (not a
// date), 2.5 (not a whole number) and a null in a fact not declared
// nullable, each for one customer.
func newQualityStore(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	s, url := newStoreURL(t, 0)
	exec(t, s, `CREATE TABLE bad_facts (id text PRIMARY KEY, last_order_at text, orders numeric)`)
	exec(t, s, `INSERT INTO bad_facts VALUES ('1', '2024-06-30', 3.00), ('2', 'n/a', 2), ('3', '2023-01-01', 2.5),
		('4', '2024-06-01', NULL), ('5', '2024-06-15 10:00:00', 1)`)
	return s, url
}

// wantFactErrors are the errors bad_facts gives, by customer.
var wantFactErrors = map[string]struct{ rule, msg string }{
	"2": {"facts.last_order_at", `fact "last_order_at": "n/a" is not a date`},
	"3": {"facts.orders", `fact "orders": "2.5" is not a whole number`},
	"4": {"facts.orders", "null, but the fact is not declared nullable (declare it as integer? in facts:, or fix the source)"},
}

// checkFactErrors fails unless rep reports exactly wantFactErrors.
func checkFactErrors(t *testing.T, what string, rep *jobs.PlanReport) {
	t.Helper()
	if rep.Errors.Customers != len(wantFactErrors) || len(rep.Errors.Examples) != len(wantFactErrors) {
		t.Fatalf("%s: errors %+v, want one for each of customers 2, 3 and 4", what, rep.Errors)
	}
	for _, ex := range rep.Errors.Examples {
		w, ok := wantFactErrors[ex.Customer]
		if !ok || ex.Rule != w.rule || !strings.Contains(ex.Message, w.msg) {
			t.Errorf("%s: error %+v; want customer %s: %s: %s", what, ex, ex.Customer, w.rule, w.msg)
		}
	}
}

// A text value that is not a date, in a text column read as a time fact,
// and a numeric 2.5 read as an integer fact are each one customer's
// error naming the customer, the fact and the value; so is a null in a
// fact not declared nullable. They count toward max_error_rate, and
// under it the run goes on: the other customers are evaluated and
// applied, those with errors get no segment. Both paths agree: facts
// joined to state in one query, and facts from another database.
func TestBadValuesArePerCustomer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, joined := range []bool{true, false} {
		s, url := newQualityStore(t)
		rs := qualityRuleSet(t)
		var src jobs.FactsSource = s.Source("bad_facts")
		what := "joined"
		if !joined {
			db, err := postgres.OpenDatabase(ctx, url, "facts")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			src, what = db.Source("bad_facts"), "another database"
		}
		o := opts()
		if _, err := jobs.Apply(ctx, s, src, rs, o); !errors.Is(err, jobs.ErrTooManyRuleErrors) {
			t.Fatalf("%s: apply with 3 of 5 customers in error under max_error_rate 1%%: %v, want ErrTooManyRuleErrors", what, err)
		}
		o.Guard.MaxErrorRate = -1
		out, err := jobs.Apply(ctx, s, src, rs, o)
		if err != nil {
			t.Fatalf("%s: apply with no error limit: %v", what, err)
		}
		checkFactErrors(t, what, out.Report)
		got := map[string]string{}
		rows, err := s.DB().Query(`SELECT customer_key, segment FROM tierflow.assignments WHERE ruleset = 'quality'`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k, seg string
			if err := rows.Scan(&k, &seg); err != nil {
				t.Fatal(err)
			}
			got[k] = seg
		}
		rows.Close()
		if want := map[string]string{"1": "recent", "5": "recent"}; len(got) != len(want) || got["1"] != "recent" || got["5"] != "recent" {
			t.Fatalf("%s: assignments %v, want %v", what, got, want)
		}
	}
}

// explain reads one customer through the same conversion: its fact
// error is reported, not a failure of the query.
func TestFindCustomerBadValue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newQualityStore(t)
	rs := qualityRuleSet(t)
	c, err := jobs.FindCustomer(ctx, s, s.Source("bad_facts"), rs, "3", jobs.At(asOf))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.FactErrors) != 1 || c.FactErrors[0].Fact != "orders" || !strings.Contains(c.FactErrors[0].Err.Error(), `"2.5" is not a whole number`) {
		t.Fatalf("customer 3: fact errors %v, want orders: 2.5 is not a whole number", c.FactErrors)
	}
	c, err = jobs.FindCustomer(ctx, s, s.Source("bad_facts"), rs, "1", jobs.At(asOf))
	if err != nil || len(c.FactErrors) != 0 || c.Facts[1] != 3 {
		t.Fatalf("customer 1: %+v, %v; want orders 3 from numeric 3.00", c, err)
	}
}

// Facts are cast in SQL only where the column's type converts exactly
// and cannot fail; every other column is read as text. Both queries order
// by the key's text in byte order.
func TestFactsQueryCasts(t *testing.T) {
	t.Parallel()
	schema, err := rules.NewSchema([]rules.Field{
		{Name: "at", Type: rules.TypeTime}, {Name: "at_text", Type: rules.TypeTime},
		{Name: "n", Type: rules.TypeInteger}, {Name: "n_numeric", Type: rules.TypeInteger},
		{Name: "x", Type: rules.TypeNumber}, {Name: "x_numeric", Type: rules.TypeNumber},
		{Name: "ok", Type: rules.TypeBool}, {Name: "ok_text", Type: rules.TypeBool},
		{Name: "s", Type: rules.TypeString}, {Name: "missing", Type: rules.TypeInteger},
	})
	if err != nil {
		t.Fatal(err)
	}
	rs := &rules.RuleSet{Name: "t", Key: "id", Facts: schema}
	cols := []kernel.Column{{Name: "id", DBType: "INT8"}, {Name: "at", DBType: "DATE"}, {Name: "at_text", DBType: "TEXT"},
		{Name: "n", DBType: "INT4"}, {Name: "n_numeric", DBType: "NUMERIC"}, {Name: "x", DBType: "FLOAT4"},
		{Name: "x_numeric", DBType: "NUMERIC"}, {Name: "ok", DBType: "BOOL"}, {Name: "ok_text", DBType: "VARCHAR"}, {Name: "s", DBType: "TIMESTAMPTZ"}}
	got := kernel.FactsQuery(postgres.Dialect, rs, cols, "SELECT 1", "")
	want := `SELECT src."id"::text, src."at"::timestamptz, src."at_text"::text, src."n"::int8, src."n_numeric"::text, ` +
		`src."x"::float8, src."x_numeric"::text, src."ok"::bool, src."ok_text"::text, src."s"::text, src."missing"::text
FROM (SELECT 1) AS src
ORDER BY (src."id"::text) COLLATE "C"`
	if got != want {
		t.Errorf("FactsQuery =\n%s\nwant\n%s", got, want)
	}
	snap := kernel.SnapshotQuery(postgres.Dialect, kernel.Tables{State: "s"}, rs, kernel.NewLayout(rs), cols, "SELECT 1")
	if !strings.HasPrefix(snap, strings.SplitN(want, "\n", 2)[0]) || !strings.HasSuffix(snap, "\nORDER BY (src.\"id\"::text) COLLATE \"C\"") {
		t.Errorf("SnapshotQuery =\n%s\nwant the same select list and order", snap)
	}
}

// icu returns a collation whose order is not byte order ("a" before
// "B"), or skips the test: without one, byte order cannot be told from
// the database's own (pgtest's databases are C).
func icu(t *testing.T, s *postgres.Store) string {
	t.Helper()
	var ok bool
	if err := s.DB().QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')`).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("the server has no ICU collation und-x-icu to order keys otherwise than by bytes")
	}
	return `"und-x-icu"`
}

// byteOrderKeys in byte order, as Go sorts them.
var byteOrderKeys = []string{"10", "9", "B", "a", "ä"}

// streamKeys reads the keys of a stream in the order it yields them,
// loading the state of each batch through load, when set, while the
// stream is open.
func streamKeys(t *testing.T, stream func(context.Context, int, func([]engine.Customer) error) error, load func(context.Context, []engine.Customer) error) []string {
	t.Helper()
	var keys []string
	err := stream(context.Background(), 2, func(batch []engine.Customer) error {
		for _, c := range batch {
			keys = append(keys, c.Key)
		}
		if load != nil {
			return load(context.Background(), slices.Clone(batch))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Facts streams, the joined snapshot and the state's keys come in byte
// order of the key, whatever the collation of the key columns: the
// readers say so (jobs.Ordered), and the merge of facts with state keys
// relies on it. The joined snapshot lists the state's keys and loads
// state from its own snapshot, while its stream is open: a commit after
// it opened does not show.
func TestStreamsInByteOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, url := newStoreURL(t, 0)
	coll := icu(t, s)
	// The compatibility views depend on the column; they are not read here.
	exec(t, s, `DROP VIEW tierflow.assignments, tierflow.action_last`)
	exec(t, s, `ALTER TABLE tierflow.customer_state ALTER COLUMN customer_key TYPE text COLLATE `+coll)
	exec(t, s, `CREATE TABLE keyed (id text COLLATE `+coll+` PRIMARY KEY, last_order_at timestamptz NOT NULL, orders int NOT NULL)`)
	exec(t, s, `INSERT INTO keyed SELECT k, '2024-06-30', 1 FROM unnest(ARRAY['a', 'ä', 'B', '9', '10']) AS k`)
	var dbOrder []string
	rows, err := s.DB().Query(`SELECT id FROM keyed ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		dbOrder = append(dbOrder, k)
	}
	rows.Close()
	if slices.Equal(dbOrder, byteOrderKeys) {
		t.Fatalf("collation %s orders keys by bytes: %q; the test cannot tell", coll, dbOrder)
	}
	rs := qualityRuleSet(t)

	db, err := postgres.OpenDatabase(ctx, url, "facts")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fr, err := db.Source("keyed").OpenFacts(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	if o, ok := fr.(jobs.Ordered); !ok || !o.Ordered() {
		t.Errorf("the facts reader %T does not say it is ordered", fr)
	}
	if got := streamKeys(t, fr.Stream, nil); !slices.Equal(got, byteOrderKeys) {
		t.Errorf("facts stream keys %q, want %q", got, byteOrderKeys)
	}

	o := opts()
	o.Guard.AllowLarge = true
	if _, err := jobs.Apply(ctx, s, s.Source("keyed"), rs, o); err != nil {
		t.Fatal(err)
	}
	snap, ok, err := s.Join(ctx, rs, s.Source("keyed"))
	if err != nil || !ok {
		t.Fatalf("Join = %v, %v", ok, err)
	}
	defer snap.Close()
	exec(t, s, `INSERT INTO keyed VALUES ('0', '2024-06-30', 1)`)
	if _, err := jobs.Apply(ctx, s, s.Source("keyed"), rs, o); err != nil {
		t.Fatal(err)
	}
	if o, ok := snap.(jobs.Ordered); !ok || !o.Ordered() {
		t.Errorf("the joined snapshot %T does not say it is ordered", snap)
	}
	sk, ok := snap.(jobs.StateKeys)
	if !ok {
		t.Fatalf("the joined snapshot %T does not implement jobs.StateKeys", snap)
	}
	var loaded []engine.Customer
	load := func(ctx context.Context, batch []engine.Customer) error {
		// State is looked up for every batch while the stream is open, as
		// a merge does for customers who left the source.
		batch = append(batch, engine.Customer{Key: "0"}, engine.Customer{Key: "nobody"})
		if err := sk.Load(ctx, batch); err != nil {
			return err
		}
		loaded = append(loaded, batch...)
		return nil
	}
	if got := streamKeys(t, snap.Stream, load); !slices.Equal(got, byteOrderKeys) {
		t.Errorf("joined snapshot keys %q, want %q", got, byteOrderKeys)
	}
	for _, c := range loaded {
		known := c.Key != "0" && c.Key != "nobody" // "0" came after the snapshot
		if len(c.State.Segments) != 1 || (c.State.Segments[0].Segment == "recent") != known {
			t.Errorf("Load of %s from the snapshot: %+v; want a segment: %v", c.Key, c.State, known)
		}
	}
	var keys []string
	if err := sk.Keys(ctx, 2, func(b []string) error { keys = append(keys, b...); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, byteOrderKeys) {
		t.Errorf("joined snapshot's state keys %q, want %q (without 0, committed after it opened)", keys, byteOrderKeys)
	}
}
