package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
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

var qualityAsOf = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

func qualityOptions() jobs.Options {
	return jobs.Options{AsOf: qualityAsOf, Guard: jobs.DefaultGuard, Workers: 2, BatchSize: 2}
}

// exec runs statements on s's read-write pool.
func execAll(t *testing.T, s testStore, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// segments returns the rule set's assignments by customer.
func segments(t *testing.T, s testStore, ruleset string) map[string]string {
	t.Helper()
	var rows []struct {
		Key     string `db:"customer_key"`
		Segment string `db:"segment"`
	}
	if err := s.DB().Select(&rows, `SELECT customer_key, segment FROM assignments WHERE ruleset = $1`, ruleset); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.Key] = r.Segment
	}
	return out
}

// A value that is not a date in a column read as a time fact, declared
// DATE (the driver hands the text back) or TEXT, is one customer's error
// naming the customer, the fact and the value, never a silent null; so
// is a null in a fact not declared nullable. They count toward
// max_error_rate, and under it the run goes on: the other customers are
// evaluated and applied, those with errors get no segment. Facts joined
// to state in one query and facts from another file agree.
func TestBadValuesArePerCustomer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, decl := range []string{"DATE", "TEXT"} {
		for _, joined := range []bool{true, false} {
			what := decl
			if !joined {
				what += ", another file"
			}
			path := filepath.Join(t.TempDir(), "t.db")
			s, err := openTest(ctx, Config{Path: path}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Migrate(ctx, false); err != nil {
				t.Fatal(err)
			}
			execAll(t, s, `CREATE TABLE bad_facts (id TEXT PRIMARY KEY, last_order_at `+decl+`, orders INTEGER)`,
				`INSERT INTO bad_facts VALUES ('1', '2024-06-30', 3), ('2', 'n/a', 2), ('3', '2023-01-01', 1),
					('4', '2024-06-01', NULL), ('5', '2024-06-15 10:00:00', 1)`)
			var src jobs.FactsSource = s.Source("bad_facts")
			if !joined {
				db, err := OpenDatabase(ctx, path, "facts")
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				src = db.Source("bad_facts")
			}
			rs := qualityRuleSet(t)
			o := qualityOptions()
			if _, err := jobs.Apply(ctx, s, src, rs, o); !errors.Is(err, jobs.ErrTooManyRuleErrors) {
				t.Fatalf("%s: apply with 2 of 5 customers in error under max_error_rate 1%%: %v, want ErrTooManyRuleErrors", what, err)
			}
			o.Guard.MaxErrorRate = -1
			out, err := jobs.Apply(ctx, s, src, rs, o)
			if err != nil {
				t.Fatalf("%s: apply with no error limit: %v", what, err)
			}
			want := map[string]struct{ rule, msg string }{
				"2": {"facts.last_order_at", `fact "last_order_at": "n/a" is not a date`},
				"4": {"facts.orders", "null, but the fact is not declared nullable (declare it as integer? in facts:, or fix the source)"},
			}
			errs := out.Report.Errors
			if errs.Customers != len(want) || len(errs.Examples) != len(want) {
				t.Fatalf("%s: errors %+v, want one for each of customers 2 and 4", what, errs)
			}
			for _, ex := range errs.Examples {
				if w, ok := want[ex.Customer]; !ok || ex.Rule != w.rule || !strings.Contains(ex.Message, w.msg) {
					t.Errorf("%s: error %+v; want customer %s: %s: %s", what, ex, ex.Customer, w.rule, w.msg)
				}
			}
			if got := segments(t, s, rs.Name); len(got) != 3 || got["1"] != "recent" || got["3"] != "lapsed" || got["5"] != "recent" {
				t.Fatalf("%s: assignments %v, want 1 and 5 recent, 3 lapsed, none for 2 and 4", what, got)
			}
		}
	}
}

// byteOrderKeys in byte order, as Go sorts them.
var byteOrderKeys = []string{"10", "9", "B", "a", "ä"}

// streamKeys reads the keys of a stream in the order it yields them,
// calling each, when set, with every batch while the stream is open.
func streamKeys(t *testing.T, stream func(context.Context, int, func([]engine.Customer) error) error, each func(context.Context, []engine.Customer) error) []string {
	t.Helper()
	var keys []string
	err := stream(context.Background(), 2, func(batch []engine.Customer) error {
		for _, c := range batch {
			keys = append(keys, c.Key)
		}
		if each != nil {
			return each(context.Background(), slices.Clone(batch))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Facts streams and the joined snapshot come in byte order of the key,
// even where the key column's collation orders otherwise (NOCASE), and
// say so (jobs.Ordered). The joined snapshot lists the state's keys and
// loads state from its own view, while its stream is open: a commit after
// it opened does not show.
func TestStreamsInByteOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t, "keyed")
	execAll(t, s, `CREATE TABLE keyed (id TEXT COLLATE NOCASE PRIMARY KEY, last_order_at DATE NOT NULL, orders INTEGER NOT NULL)`,
		`INSERT INTO keyed VALUES ('a', '2024-06-30', 1), ('ä', '2024-06-30', 1), ('B', '2024-06-30', 1), ('9', '2024-06-30', 1), ('10', '2024-06-30', 1)`)
	var colOrder []string
	if err := s.DB().Select(&colOrder, `SELECT CAST(src.id AS TEXT) FROM (SELECT * FROM keyed) AS src ORDER BY CAST(src.id AS TEXT)`); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(colOrder, byteOrderKeys) {
		t.Fatalf("the NOCASE column orders keys by bytes: %q; the test cannot tell", colOrder)
	}
	rs := qualityRuleSet(t)
	fr, err := s.Source("keyed").OpenFacts(ctx, rs)
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

	o := qualityOptions()
	o.Guard.AllowLarge = true
	if _, err := jobs.Apply(ctx, s, s.Source("keyed"), rs, o); err != nil {
		t.Fatal(err)
	}
	snap, ok, err := s.Join(ctx, rs, s.Source("keyed"))
	if err != nil || !ok {
		t.Fatalf("Join = %v, %v", ok, err)
	}
	defer snap.Close()
	sk, ok := snap.(jobs.StateKeys)
	if !ok {
		t.Fatalf("the joined snapshot %T does not implement jobs.StateKeys", snap)
	}
	if snap.Initial() {
		t.Fatal("the joined snapshot after an apply is initial")
	}
	execAll(t, s, `INSERT INTO keyed VALUES ('0', '2024-06-30', 1)`)
	if _, err := jobs.Apply(ctx, s, s.Source("keyed"), rs, o); err != nil {
		t.Fatal(err)
	}
	if o, ok := snap.(jobs.Ordered); !ok || !o.Ordered() {
		t.Errorf("the joined snapshot %T does not say it is ordered", snap)
	}
	var loaded []engine.Customer
	var listed []string
	each := func(ctx context.Context, batch []engine.Customer) error {
		// State is listed and looked up while the stream is open, as a
		// merge does for customers who left the source.
		if listed == nil {
			if err := sk.Keys(ctx, 2, func(b []string) error { listed = append(listed, b...); return nil }); err != nil {
				return err
			}
		}
		batch = append(batch, engine.Customer{Key: "0"}, engine.Customer{Key: "nobody"})
		if err := sk.Load(ctx, batch); err != nil {
			return err
		}
		loaded = append(loaded, batch...)
		return nil
	}
	if got := streamKeys(t, snap.Stream, each); !slices.Equal(got, byteOrderKeys) {
		t.Errorf("joined snapshot keys %q, want %q", got, byteOrderKeys)
	}
	if !slices.Equal(listed, byteOrderKeys) {
		t.Errorf("joined snapshot's state keys %q, want %q (without 0, committed after it opened)", listed, byteOrderKeys)
	}
	for _, c := range loaded {
		known := c.Key != "0" && c.Key != "nobody" // "0" came after the snapshot
		if len(c.State.Segments) != 1 || (c.State.Segments[0].Segment == "recent") != known {
			t.Errorf("Load of %s from the snapshot: %+v; want a segment: %v", c.Key, c.State, known)
		}
	}
}

// SQLite reads facts as stored, in the key's byte order.
func TestFactsQueryOrder(t *testing.T) {
	t.Parallel()
	rs := qualityRuleSet(t)
	got := kernel.FactsQuery(Dialect, rs, nil, "SELECT 1", "")
	want := `SELECT CAST(src."id" AS TEXT), src."last_order_at", src."orders"
FROM (SELECT 1) AS src
ORDER BY CAST(src."id" AS TEXT) COLLATE BINARY`
	if got != want {
		t.Errorf("FactsQuery =\n%s\nwant\n%s", got, want)
	}
	snap := kernel.SnapshotQuery(Dialect, kernel.Tables{State: "s"}, rs, kernel.NewLayout(rs), nil, "SELECT 1")
	if !strings.HasSuffix(snap, "\nORDER BY CAST(src.\"id\" AS TEXT) COLLATE BINARY") {
		t.Errorf("SnapshotQuery =\n%s\nwant it ordered by the key's bytes", snap)
	}
}
