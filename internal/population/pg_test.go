package population

import (
	"database/sql"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// docSQL returns the SQL block of docs/population.md whose first line is
// "-- " + title.
func docSQL(t *testing.T, title string) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/population.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		if strings.HasPrefix(m[1], "-- "+title+"\n") {
			return m[1]
		}
	}
	t.Fatalf("docs/population.md has no sql block starting with -- %s", title)
	return ""
}

// customer is one row of the customer_facts table the docs' SQL reads.
type customer struct {
	spend, recency, orders sample
}

// loadFacts replaces customer_facts with the customers, ids from 1.
func loadFacts(t *testing.T, db *sql.DB, customers []customer) {
	t.Helper()
	arr := func(get func(customer) sample) string {
		parts := make([]string, len(customers))
		for i, c := range customers {
			parts[i] = "NULL"
			if s := get(c); s.ok {
				parts[i] = strconv.FormatFloat(s.v, 'g', -1, 64)
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	ids := make([]string, len(customers))
	for i := range ids {
		ids[i] = strconv.Itoa(i + 1)
	}
	for _, q := range []string{
		"DROP TABLE IF EXISTS customer_facts",
		"CREATE TABLE customer_facts (customer_id int PRIMARY KEY, spend_12m float8, recency_days float8, orders_12m float8)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	_, err := db.Exec("INSERT INTO customer_facts SELECT * FROM unnest($1::int[], $2::float8[], $3::float8[], $4::float8[])",
		"{"+strings.Join(ids, ",")+"}",
		arr(func(c customer) sample { return c.spend }),
		arr(func(c customer) sample { return c.recency }),
		arr(func(c customer) sample { return c.orders }))
	if err != nil {
		t.Fatal(err)
	}
}

// query runs q and calls row with the scanned columns of each row,
// keyed by customer_id.
func query(t *testing.T, db *sql.DB, q string, dest func() []any, row func(id int, cols []any)) {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		cols := dest()
		if err := rows.Scan(append([]any{&id}, cols...)...); err != nil {
			t.Fatal(err)
		}
		row(id, cols)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestSQLMatchesPostgres runs the SQL of docs/population.md on
// PostgreSQL and checks that every customer's percent rank, cumulative
// distribution, bins (for several bin counts), RFM scores and code,
// share above and ABC class equal the exact column's, bit for bit.
func TestSQLMatchesPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	rng := rand.New(rand.NewPCG(15, 4))
	sets := datasets(rng)
	cuts, _ := NewCuts(0.8, 0.95)
	for _, name := range slices.Sorted(maps.Keys(sets)) {
		customers := make([]customer, len(sets[name]))
		for i, s := range sets[name] {
			customers[i] = customer{spend: s,
				recency: sample{float64(rng.IntN(400)), rng.IntN(10) > 0},
				orders:  sample{math.Floor(-math.Log2(1 - rng.Float64())), rng.IntN(20) > 0}}
		}
		loadFacts(t, db, customers)
		spend, recency, orders := columnOf(t, customers, func(c customer) sample { return c.spend }),
			columnOf(t, customers, func(c customer) sample { return c.recency }),
			columnOf(t, customers, func(c customer) sample { return c.orders })
		seen := 0
		query(t, db, docSQL(t, "pct_rank(spend_12m) and cume_dist(spend_12m)"),
			func() []any { return []any{new(float64), new(float64)} },
			func(id int, cols []any) {
				seen++
				v := customers[id-1].spend.v
				if pr, cd := *cols[0].(*float64), *cols[1].(*float64); pr != spend.PercentRank(v) || cd != spend.CumeDist(v) {
					t.Errorf("%s: customer %d (%v): PostgreSQL percent_rank %v, cume_dist %v; tierflow %v, %v", name, id, v, pr, cd, spend.PercentRank(v), spend.CumeDist(v))
				}
			})
		if want := int(spend.Stats().N); seen != want {
			t.Errorf("%s: PostgreSQL ranked %d customers, tierflow %d", name, seen, want)
		}
		for _, bins := range []int{1, 2, 3, 5, 7, 10} {
			q := strings.ReplaceAll(docSQL(t, "ntile(spend_12m, 5)"), "ntile(5)", fmt.Sprintf("ntile(%d)", bins))
			query(t, db, q, func() []any { return []any{new(int)} }, func(id int, cols []any) {
				v := customers[id-1].spend.v
				if got := *cols[0].(*int); got != spend.Ntile(v, bins) {
					t.Errorf("%s: customer %d (%v), %d bins: PostgreSQL bin %d, tierflow %d", name, id, v, bins, got, spend.Ntile(v, bins))
				}
			})
		}
		checkRFM(t, db, name, customers, recency, orders, spend)
		query(t, db, docSQL(t, "abc(spend_12m, [0.8, 0.95])"),
			func() []any { return []any{new(float64), new(string)} },
			func(id int, cols []any) {
				v := customers[id-1].spend.v
				if share, class := *cols[0].(*float64), *cols[1].(*string); share != spend.ShareAbove(v) || class != spend.ABC(v, cuts) {
					t.Errorf("%s: customer %d (%v): PostgreSQL share above %v, class %s; tierflow %v, %s", name, id, v, share, class, spend.ShareAbove(v), spend.ABC(v, cuts))
				}
			})
	}
}

// checkRFM compares the docs' RFM query with RFM scores over the three
// columns, nulls included.
func checkRFM(t *testing.T, db *sql.DB, name string, customers []customer, recency, orders, spend *Column) {
	t.Helper()
	rfm, err := NewRFM(recency, orders, spend, 5)
	if err != nil {
		t.Fatal(err)
	}
	score := func(s sample, f func(float64) int) int {
		if !s.ok {
			return 0
		}
		return f(s.v)
	}
	query(t, db, docSQL(t, "rfm(recency_days, orders_12m, spend_12m)"),
		func() []any {
			return []any{new(sql.NullInt64), new(sql.NullInt64), new(sql.NullInt64), new(sql.NullString)}
		},
		func(id int, cols []any) {
			c := customers[id-1]
			want := Scores{score(c.recency, rfm.R), score(c.orders, rfm.F), score(c.spend, rfm.M)}
			got := Scores{int(cols[0].(*sql.NullInt64).Int64), int(cols[1].(*sql.NullInt64).Int64), int(cols[2].(*sql.NullInt64).Int64)}
			if code := cols[3].(*sql.NullString).String; got != want || code != want.Code() {
				t.Errorf("%s: customer %d %+v: PostgreSQL %+v %q, tierflow %+v %q", name, id, c, got, code, want, want.Code())
			}
		})
}

// columnOf builds the exact column of one fact of the customers.
func columnOf(t *testing.T, customers []customer, get func(customer) sample) *Column {
	t.Helper()
	samples := make([]sample, len(customers))
	for i, c := range customers {
		samples[i] = get(c)
	}
	return exactColumn(t, samples)
}
