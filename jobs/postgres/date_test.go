package postgres_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

// dateDB is a database whose sessions default to Shanghai's time zone,
// with one customer: a date, UTC's and New York's midnight of the same
// day as timestamptz, and a time of day.
func dateDB(t *testing.T) *postgres.Database {
	t.Helper()
	url := pgtest.URL(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRow(`SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`ALTER DATABASE ` + pq.QuoteIdentifier(name) + ` SET timezone TO 'Asia/Shanghai'`,
		`CREATE TABLE f (customer_id bigint, d date, ts timestamptz, ny timestamptz, noon timestamptz)`,
		`INSERT INTO f VALUES (1, '2024-06-30', '2024-06-30 00:00:00+00', '2024-06-30 00:00:00-04', '2024-06-30 12:00:00+00')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	src, err := postgres.OpenDatabase(context.Background(), url, "dates")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func compileRules(t *testing.T, src string, opts rules.Options) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("dates.yaml", []byte(src), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

const dateRulesHead = "ruleset: dates\nkey: customer_id\n"
const dateRulesTail = `segmentations:
  - name: s
    segments:
      - {name: a, fallback: true}
`

// A rule file without facts gets a date fact for a date column, a time
// fact for a timestamptz one.
func TestInferDateColumns(t *testing.T) {
	t.Parallel()
	src := dateDB(t)
	bare := &rules.RuleSet{Name: "dates", Key: "customer_id"}
	schema, err := src.Source("f").FactsSchema(context.Background(), bare)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]rules.Type{"d": rules.TypeDate, "ts": rules.TypeTime, "ny": rules.TypeTime, "noon": rules.TypeTime}
	for name, typ := range want {
		if f, _, ok := schema.Lookup(name); !ok || f.Type != typ {
			t.Errorf("column %s: %v, want %s", name, f.Type, typ)
		}
	}
	rs := compileRules(t, dateRulesHead+dateRulesTail, rules.Options{Schema: schema})
	if f, _, _ := rs.Facts.Lookup("d"); f.Type != rules.TypeDate {
		t.Errorf("compiled with the inferred schema, d is %s", f.Type)
	}
}

// Date facts read the day a column holds, whatever the session's zone: a
// date column, a timestamptz at UTC's midnight, and one at New York's
// midnight in a rule set on New York's calendar. A time of day is the
// customer's fact error, never a day cut off.
func TestReadDateFacts(t *testing.T) {
	t.Parallel()
	src := dateDB(t)
	rs := compileRules(t, dateRulesHead+"timezone: America/New_York\nfacts:\n  d: date\n  ts: date\n  ny: date\n  noon: date?\n"+dateRulesTail, rules.Options{})
	problems, err := src.Source("f").CheckFacts(context.Background(), rs)
	if err != nil || len(problems) > 0 {
		t.Fatalf("CheckFacts: %v %v; date facts read timestamptz columns", problems, err)
	}
	c := readOne(t, src, rs)
	for i, name := range []string{"d", "ts", "ny"} {
		got, ok := c.Facts[i].(time.Time)
		if !ok || !got.Equal(time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)) || got.Location() != time.UTC {
			t.Errorf("%s = %v, want 2024-06-30 at 00:00 UTC", name, c.Facts[i])
		}
	}
	if len(c.FactErrors) != 1 || c.FactErrors[0].Fact != "noon" || !strings.Contains(c.FactErrors[0].Err.Error(), "has a time of day (08:00:00 in America/New_York)") {
		t.Errorf("fact errors %v, want noon's time of day", c.FactErrors)
	}
}

func readOne(t *testing.T, src *postgres.Database, rs *rules.RuleSet) engine.Customer {
	t.Helper()
	fr, err := src.Source("f").OpenFacts(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	var got []engine.Customer
	if err := fr.Stream(context.Background(), 10, func(b []engine.Customer) error {
		got = append(got, b...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d customers, want 1", len(got))
	}
	return got[0]
}
