package storetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
)

// PostgresFactsDDL is customer_facts on PostgreSQL (Backend.FactsDDL):
// the key a bigint, money numeric.
const PostgresFactsDDL = `CREATE TABLE customer_facts (
    customer_id    bigint PRIMARY KEY,
    spend_12m      numeric,
    spend_prev_12m numeric NOT NULL,
    orders_12m     integer NOT NULL,
    first_order_at date NOT NULL,
    last_order_at  timestamptz,
    channel        text NOT NULL
)`

// CreateFacts creates customer_facts with ddl and fills it with n
// generated customers, ids 1 to n.
func CreateFacts(t testing.TB, s Store, ddl string, n int) {
	t.Helper()
	if _, err := s.DB().Exec(ddl); err != nil {
		t.Fatalf("create customer_facts: %v", err)
	}
	InsertCustomers(t, s.DB(), 1, n)
}

// factsColumns is the order of Customer's values in an INSERT.
const factsColumns = "customer_id, spend_12m, spend_prev_12m, orders_12m, first_order_at, last_order_at, channel"

// insertRows is how many customers one INSERT statement writes.
const insertRows = 100

// InsertCustomers adds generated customers first..first+n-1 to
// customer_facts, in one transaction. A customer's facts depend only on
// its id, so every database filled with the same ids holds the same
// facts, whatever its kind.
func InsertCustomers(t testing.TB, db *sqlx.DB, first, n int) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	var args []any
	flush := func() {
		rows := len(args) / 7
		if rows == 0 {
			return
		}
		if _, err := tx.Exec(insertSQL(rows), args...); err != nil {
			t.Fatalf("insert customers: %v", err)
		}
		args = args[:0]
	}
	for id := first; id < first+n; id++ {
		args = append(args, Generated(id).values()...)
		if len(args) == insertRows*7 {
			flush()
		}
	}
	flush()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// insertSQL inserts rows customers into customer_facts, their values
// (Customer.values) one after the other.
func insertSQL(rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO customer_facts (" + factsColumns + ") VALUES ")
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d)", r*7+1, r*7+2, r*7+3, r*7+4, r*7+5, r*7+6, r*7+7)
	}
	return b.String()
}

// onConflictReplace makes an insert into customer_facts replace the
// facts of a customer already there.
const onConflictReplace = `
		ON CONFLICT (customer_id) DO UPDATE SET spend_12m = excluded.spend_12m, spend_prev_12m = excluded.spend_prev_12m,
		orders_12m = excluded.orders_12m, first_order_at = excluded.first_order_at, last_order_at = excluded.last_order_at,
		channel = excluded.channel`

// Customer is one row of customer_facts.
type Customer struct {
	ID          int
	Spend, Prev float64
	Orders      int
	FirstOrder  string // a date: 2024-06-20
	LastOrder   string // a time in RFC 3339, "" for null
	Channel     string
}

// Generated returns the facts of generated customer id: spends skewed
// towards small ones, up to a dozen orders, a first order up to 2000 days
// before asOf, a last order up to 500 days before it (none for one
// customer in twenty), and the channel cycling with the id.
func Generated(id int) Customer {
	r := rand.New(rand.NewPCG(0x7469657266, uint64(id)))
	spend := func() float64 { return math.Round(math.Pow(r.Float64(), 3)*8_000_000) / 100 }
	c := Customer{ID: id, Spend: spend(), Prev: spend(), Orders: int(math.Round(r.Float64() * 12))}
	c.FirstOrder = asOf.AddDate(0, 0, -int(math.Round(r.Float64()*2000))).Format("2006-01-02")
	if r.Float64() >= 0.05 {
		c.LastOrder = asOf.AddDate(0, 0, -int(math.Round(r.Float64()*500))).Format("2006-01-02T15:04:05Z")
	}
	c.Channel = []string{"online", "store", "partner"}[id%3]
	return c
}

func (c Customer) values() []any {
	var last any
	if c.LastOrder != "" {
		last = c.LastOrder
	}
	return []any{int64(c.ID), c.Spend, c.Prev, int64(c.Orders), c.FirstOrder, last, c.Channel}
}

// put inserts or replaces the customer's facts.
func (c Customer) put(e *env) {
	e.t.Helper()
	e.exec(insertSQL(1)+onConflictReplace, c.values()...)
}

// ShiftFacts changes the facts so that many customers move and actions
// are queued: every customer changes channel (source moves), every third
// customer's spend halves against last year (at risk; win-back calls for
// VIP and key customers), and every 50th is new (welcome messages).
func ShiftFacts(t testing.TB, db *sqlx.DB) {
	t.Helper()
	if _, err := db.Exec(`UPDATE customer_facts SET
		channel = CASE channel WHEN 'online' THEN 'store' WHEN 'store' THEN 'partner' ELSE 'online' END,
		spend_prev_12m = CASE WHEN customer_id % 3 = 0 THEN spend_12m * 3 ELSE spend_prev_12m END,
		first_order_at = CASE WHEN customer_id % 50 = 1 THEN '2024-06-20' ELSE first_order_at END`); err != nil {
		t.Fatalf("shift facts: %v", err)
	}
}
