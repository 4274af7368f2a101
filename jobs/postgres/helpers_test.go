package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/storetest"
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

// retail loads the retail example rule set, with the edits replace
// (pairs of old and new text), without its contact limits and holdouts
// (storetest.Unwithheld): these tests count on every action that fires
// being queued.
func retail(t testing.TB, replace ...string) *rules.RuleSet {
	t.Helper()
	return storetest.RetailRuleSet(t, replace...)
}

// facts is the retail facts source, customer_facts, on s's database.
func facts(s *postgres.Store) jobs.FactsSource {
	return jobs.FactsByRuleSet{"retail": s.Source("customer_facts")}
}

// newStore opens a migrated store on a fresh database with a retail
// facts table holding n generated customers.
func newStore(t testing.TB, n int) *postgres.Store {
	t.Helper()
	s, _ := newStoreURL(t, n)
	return s
}

// newStoreURL is newStore that also returns the database's URL.
func newStoreURL(t testing.TB, n int) (*postgres.Store, string) {
	t.Helper()
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
	exec(t, s, factsDDL)
	insertCustomers(t, s, 1, n)
	return s, url
}

// insertCustomers adds generated customers first..first+n-1 to
// customer_facts. setseed and the INSERT share one transaction, so one
// connection: two databases filled by the same calls hold the same facts.
func insertCustomers(t testing.TB, s *postgres.Store, first, n int) {
	t.Helper()
	tx, err := s.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`SELECT setseed(0.42)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO customer_facts
        SELECT g,
               round((random() ^ 3 * 80000)::numeric, 2),
               round((random() ^ 3 * 80000)::numeric, 2),
               (random() * 12)::int,
               date '2024-07-01' - (random() * 2000)::int,
               CASE WHEN random() < 0.05 THEN NULL ELSE timestamptz '2024-07-01' - (random() * 500)::int * interval '1 day' END,
               (ARRAY['online', 'store', 'partner'])[1 + (g % 3)]
        FROM generate_series($1::int, $2::int) AS g`, first, first+n-1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
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

// stateTables are the tables an apply writes besides runs.
var stateTables = []string{"assignments", "history", "actions", "action_last"}

// stateColumns names each state table's columns without the surrogate
// ids (id, run_id), which depend on how many runs and rows came before:
// two databases that reached the same state by different paths agree on
// these.
var stateColumns = map[string]string{
	"assignments": "ruleset, segmentation, customer_key, segment, since, pending_since, reason",
	"history":     "ruleset, segmentation, customer_key, from_segment, to_segment, matched, reason, as_of",
	"actions": "ruleset, action, customer_key, payload, priority, status, created_at, due_at, attempts, " +
		"claimed_at, finished_at, last_error, idempotency_key",
	"action_last": "ruleset, action, customer_key, queued_at",
}

// digestOf returns an md5 over the text of every row the query returns,
// in a stable order, and the number of rows.
func digestOf(t testing.TB, db *sql.DB, query string) string {
	t.Helper()
	var sum string
	var n int
	err := db.QueryRow(`SELECT coalesce(md5(string_agg(r::text, E'\n' ORDER BY r::text)), ''), count(*) FROM (`+query+`) AS r`).Scan(&sum, &n)
	if err != nil {
		t.Fatalf("digest of %s: %v", query, err)
	}
	return fmt.Sprintf("%d rows %s", n, sum)
}

// stateDigest returns a digest per state table over whole rows: equal
// digests mean byte-for-byte equal tables.
func stateDigest(t testing.TB, s *postgres.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range stateTables {
		out[table] = digestOf(t, s.DB().DB, "SELECT * FROM tierflow."+table)
	}
	return out
}

// outcomeDigest is stateDigest without surrogate ids, for comparing
// databases that got to their state by different runs.
func outcomeDigest(t testing.TB, s *postgres.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range stateTables {
		out[table] = digestOf(t, s.DB().DB, "SELECT "+stateColumns[table]+" FROM tierflow."+table)
	}
	return out
}

// databaseDigest covers every table in the tierflow schema (runs and
// schema_migrations too), the facts table and the sequences' positions:
// everything a dry run must leave alone.
func databaseDigest(t testing.TB, s *postgres.Store) map[string]string {
	t.Helper()
	var tables []string
	err := s.DB().Select(&tables, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)
		FROM information_schema.tables WHERE table_schema IN ('tierflow', 'public') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 6 {
		t.Fatalf("found only tables %v", tables)
	}
	out := map[string]string{}
	for _, table := range tables {
		out[table] = digestOf(t, s.DB().DB, "SELECT * FROM "+table)
	}
	out["(sequences)"] = digestOf(t, s.DB().DB, `SELECT schemaname, sequencename, last_value FROM pg_sequences`)
	return out
}

// sameDigests fails the test with the tables whose digests differ.
func sameDigests(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: compared %d tables with %d", what, len(got), len(want))
	}
	for table, w := range want {
		if g := got[table]; g != w {
			t.Errorf("%s: table %s differs: got %s, want %s", what, table, g, w)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// runStatuses counts the rule set's runs by status.
func runStatuses(t testing.TB, s *postgres.Store) map[string]int {
	t.Helper()
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := s.DB().Select(&rows, `SELECT status, count(*) AS n FROM tierflow.runs GROUP BY status`); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out
}

// noDuplicateActions fails if any customer has one action queued twice
// in one rule set at one as-of, or an idempotency key twice.
func noDuplicateActions(t testing.TB, s *postgres.Store) {
	t.Helper()
	if n := count(t, s, `SELECT count(*) FROM (SELECT 1 FROM tierflow.actions
		GROUP BY ruleset, action, customer_key, created_at HAVING count(*) > 1) AS d`); n != 0 {
		t.Fatalf("%d customers have an action queued twice for one as-of", n)
	}
	if n := count(t, s, `SELECT count(*) - count(DISTINCT idempotency_key) FROM tierflow.actions`); n != 0 {
		t.Fatalf("%d repeated idempotency keys", n)
	}
}

// customer is one hand-written row of customer_facts.
type customer struct {
	id          int
	spend, prev float64
	orders      int
	firstOrder  string
	lastOrder   string // "" for null
	channel     string
}

// put inserts or replaces the customer's facts.
func (c customer) put(t testing.TB, s *postgres.Store) {
	t.Helper()
	var last any
	if c.lastOrder != "" {
		last = c.lastOrder
	}
	exec(t, s, `INSERT INTO customer_facts VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (customer_id) DO UPDATE SET spend_12m = EXCLUDED.spend_12m, spend_prev_12m = EXCLUDED.spend_prev_12m,
		orders_12m = EXCLUDED.orders_12m, first_order_at = EXCLUDED.first_order_at, last_order_at = EXCLUDED.last_order_at,
		channel = EXCLUDED.channel`, c.id, c.spend, c.prev, c.orders, c.firstOrder, last, c.channel)
}

// day returns asOf moved by n days.
func day(n int) time.Time { return asOf.AddDate(0, 0, n) }

// applyAt runs an apply at the given as-of with o's other options.
func applyAt(t testing.TB, s *postgres.Store, rs *rules.RuleSet, at time.Time, o jobs.Options) *jobs.Outcome {
	t.Helper()
	o.AsOf = at
	out, err := jobs.Apply(context.Background(), s, facts(s), rs, o)
	if err != nil {
		t.Fatalf("apply as of %s: %v", at.Format(time.DateOnly), err)
	}
	return out
}

// shiftFacts changes the facts so that many customers move and actions
// are queued: every customer changes channel (source moves), every third
// customer's spend halves against last year (at risk; win-back calls for
// VIP and key customers), and every 50th is new (welcome messages).
func shiftFacts(t testing.TB, s *postgres.Store) {
	t.Helper()
	exec(t, s, `UPDATE customer_facts SET
		channel = CASE channel WHEN 'online' THEN 'store' WHEN 'store' THEN 'partner' ELSE 'online' END,
		spend_prev_12m = CASE WHEN customer_id % 3 = 0 THEN spend_12m * 3 ELSE spend_prev_12m END,
		first_order_at = CASE WHEN customer_id % 50 = 1 THEN date '2024-06-20' ELSE first_order_at END`)
}

// compileVariant compiles the retail example with old replaced by new.
func compileVariant(t testing.TB, old, new string) *rules.RuleSet {
	t.Helper()
	src, err := os.ReadFile("../../examples/retail/retail.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), old) {
		t.Fatalf("retail.yaml no longer contains %q", old)
	}
	rs, err := rules.Compile("retail.yaml", []byte(strings.Replace(string(src), old, new, 1)), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return storetest.Unwithheld(rs)
}
