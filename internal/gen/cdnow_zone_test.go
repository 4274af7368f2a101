package gen_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

// cdnowAsOf is the day after the CDNOW log ends (1998-06-30).
const cdnowAsOf = "1998-07-01"

// cdnowReference counts the CDNOW customers per lifecycle segment in SQL,
// by date arithmetic alone (date - date is whole days, whatever the
// session's time zone): what tierflow's counts must equal.
const cdnowReference = `
SELECT segment, count(*) FROM (
  SELECT CASE WHEN DATE '` + cdnowAsOf + `' - max(order_date) <= 90 THEN 'active'
              WHEN DATE '` + cdnowAsOf + `' - max(order_date) <= 180 THEN 'lapsing'
              ELSE 'churned' END AS segment
  FROM orders GROUP BY customer_id) s
GROUP BY segment`

// cdnowRules is the same lifecycle as a rule set, with the type of its
// last_order fact, its timezone line and the expression of the days
// since the last order.
const cdnowRules = `
ruleset: cdnow
key: customer_id
%s
facts:
  last_order: %s
segmentations:
  - name: lifecycle
    segments:
      - {name: active, when: %[3]s <= 90}
      - {name: lapsing, when: %[3]s <= 180}
      - {name: churned, fallback: true}
`

// loadCDNOW copies the CDNOW transaction log into table orders of db,
// whose sessions default to New York's time zone, and makes two facts
// tables of each customer's last order: facts_date keeps the date, and
// facts_ny casts it to timestamptz in a New York session, as the issue's
// facts were built (New York's midnight, 04:00 or 05:00 UTC).
func loadCDNOW(t *testing.T, db *sql.DB) {
	t.Helper()
	f, err := os.Open(cdnowPath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("the CDNOW data is not at %s", cdnowPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exec(t, db, `CREATE TABLE orders (customer_id int, order_date date, cds int, amount numeric)`)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	stmt, err := tx.Prepare(`COPY orders (customer_id, order_date, cds, amount) FROM STDIN`)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			t.Fatalf("%s: unexpected line %q", cdnowPath, sc.Text())
		}
		if _, err := stmt.Exec(fields[0], fields[1], fields[2], fields[3]); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{stmtExec(stmt), stmt.Close(), tx.Commit()} {
		if err != nil {
			t.Fatal(err)
		}
	}
	var name string
	if err := db.QueryRow(`SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	exec(t, db, `ALTER DATABASE `+pq.QuoteIdentifier(name)+` SET timezone TO 'America/New_York'`)
	exec(t, db, `CREATE TABLE facts_date AS SELECT customer_id, max(order_date) AS last_order FROM orders GROUP BY customer_id`)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{`SET TIME ZONE 'America/New_York'`,
		`CREATE TABLE facts_ny AS SELECT customer_id, max(order_date)::timestamptz AS last_order FROM orders GROUP BY customer_id`} {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

func stmtExec(stmt *sql.Stmt) error {
	_, err := stmt.Exec()
	return err
}

func exec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// referenceCounts runs cdnowReference.
func referenceCounts(t *testing.T, db *sql.DB) map[string]int {
	t.Helper()
	rows, err := db.Query(cdnowReference)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var seg string
		var n int
		if err := rows.Scan(&seg, &n); err != nil {
			t.Fatal(err)
		}
		out[seg] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// tierflowCounts reads table through tierflow's PostgreSQL facts source
// and counts the customers per segment of rs at asOf, and the customers
// whose facts or rules failed, with the first such error.
func tierflowCounts(t *testing.T, url string, rs *rules.RuleSet, table string, asOf time.Time) (map[string]int, int, string) {
	t.Helper()
	ctx := context.Background()
	src, err := postgres.OpenDatabase(ctx, url, "cdnow")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fr, err := src.Source(table).OpenFacts(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	e := engine.New(rs)
	counts, failed, first := map[string]int{}, 0, ""
	var res engine.Result
	err = fr.Stream(ctx, 1000, func(batch []engine.Customer) error {
		for i := range batch {
			e.EvaluateInto(asOf, &batch[i], &res)
			if len(res.Errors) > 0 {
				if failed++; first == "" {
					first = res.Errors[0].Error()
				}
				continue
			}
			counts[res.Segments[0].Segment]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return counts, failed, first
}

// The scenario: CDNOW's last orders, in a database whose sessions
// are in New York's time zone. A date fact gives the SQL reference's
// counts, read from a date column in UTC or from New York's midnights
// with timezone: America/New_York; a time fact read from those midnights
// does not, because it counts 24-hour periods from 04:00 or 05:00 UTC to
// the as-of's midnight.
func TestCDNOWDatesInNewYork(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	loadCDNOW(t, db)
	want := referenceCounts(t, db)
	total := want["active"] + want["lapsing"] + want["churned"]
	if total != 23570 {
		t.Fatalf("reference: %v, %d customers, want 23570", want, total)
	}
	t.Logf("SQL reference as of %s: %v", cdnowAsOf, want)

	utcMidnight := time.Date(1998, 7, 1, 0, 0, 0, 0, time.UTC)
	nyRun, err := rules.ParseTimeIn("1998-07-01T02:00:00", mustZone(t, "America/New_York")) // serve's 02:00 slot
	if err != nil {
		t.Fatal(err)
	}
	const ny = "timezone: America/New_York"
	for _, tc := range []struct {
		name, table, zone, typ, days string
		asOf                         time.Time
		same                         bool
	}{
		{"a date column, UTC", "facts_date", "", "date", "days_since(last_order)", utcMidnight, true},
		{"a date column, New York at 02:00", "facts_date", ny, "date", "days_since(last_order)", nyRun, true},
		{"New York's midnights as dates", "facts_ny", ny, "date", "days_since(last_order)", nyRun, true},
		{"New York's midnights as times, the day of each", "facts_ny", ny, "time", "days_since(date(last_order))", nyRun, true},
		{"New York's midnights as times (the issue)", "facts_ny", "", "time", "days_since(last_order)", utcMidnight, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := rules.Compile("cdnow.yaml", []byte(fmt.Sprintf(cdnowRules, tc.zone, tc.typ, tc.days)), rules.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, failed, first := tierflowCounts(t, url, rs, tc.table, tc.asOf)
			if failed > 0 {
				t.Fatalf("%d customers failed: %s", failed, first)
			}
			same := fmt.Sprint(got) == fmt.Sprint(want)
			t.Logf("%v (reference %v)", got, want)
			if same != tc.same {
				t.Errorf("counts %v, reference %v: equal is %v, want %v", got, want, same, tc.same)
			}
		})
	}

	// A date fact never shifts a day: New York's midnights in a rule set
	// on UTC's calendar are an error for every customer, saying why.
	rs, err := rules.Compile("cdnow.yaml", []byte(fmt.Sprintf(cdnowRules, "", "date", "days_since(last_order)")), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, failed, first := tierflowCounts(t, url, rs, "facts_ny", utcMidnight)
	t.Logf("first error: %s", first)
	if failed != total || !strings.Contains(first, `fact "last_order"`) || !strings.Contains(first, "has a time of day") || !strings.Contains(first, "set timezone:") {
		t.Errorf("%d of %d customers failed, first: %s", failed, total, first)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
