package wiretest

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/sqlite"
	"github.com/tierflow/tierflow/jobs/storetest"
	"github.com/tierflow/tierflow/rules"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// customers is how many customers each case evaluates; more than one
// batch, so that the keyed join crosses batch boundaries.
const customers = 1500

const sqliteFactsDDL = `CREATE TABLE customer_facts (
    customer_id    INTEGER PRIMARY KEY,
    spend_12m      REAL,
    spend_prev_12m REAL NOT NULL,
    orders_12m     INTEGER NOT NULL,
    first_order_at TEXT NOT NULL,
    last_order_at  TIMESTAMP,
    channel        TEXT NOT NULL
)`

// state is what a case compares: the store as the CLI and the engine see
// it.
type state interface {
	jobs.StateStore
	jobs.RunRecorder
	Migrate(ctx context.Context, dryRun bool) (*kernel.MigrationStatus, error)
	History(ctx context.Context, ruleset, customer string) ([]kernel.HistoryEntry, error)
	Actions(ctx context.Context, f kernel.ActionFilter) ([]kernel.QueuedAction, error)
}

// factsDB is a database holding customer_facts, that the test fills and
// shifts with SQL.
type factsDB struct {
	db   *sqlx.DB
	ddl  string
	url  string // of a PostgreSQL facts database
	path string // of a SQLite facts database
}

// A wiring is one way of running: a state store and a facts source, with
// what must happen after the facts table changes (re-export a file).
type wiring struct {
	name    string
	state   func(t *testing.T) state
	facts   func(t *testing.T, st state, f *factsDB) (jobs.FactsSource, func())
	factsIn string // "pg" or "sqlite": where the facts table lives
}

func TestFactsFromAnywhere(t *testing.T) {
	t.Parallel()
	rs := storetest.RetailRuleSet(t)
	reference := run(t, rs, wiring{name: "co-located PostgreSQL", factsIn: "pg-state", state: pgState,
		facts: func(t *testing.T, st state, _ *factsDB) (jobs.FactsSource, func()) {
			return st.(*postgres.Store).Source("customer_facts"), func() {}
		}})
	cases := []wiring{
		{name: "co-located SQLite", factsIn: "sqlite-state", state: sqliteState,
			facts: func(t *testing.T, st state, _ *factsDB) (jobs.FactsSource, func()) {
				return st.(*sqlite.Store).Source("customer_facts"), func() {}
			}},
		{name: "PostgreSQL facts into another PostgreSQL", factsIn: "pg", state: pgState,
			facts: func(t *testing.T, _ state, f *factsDB) (jobs.FactsSource, func()) {
				return pgDatabase(t, f), func() {}
			}},
		{name: "CSV into SQLite", factsIn: "pg", state: sqliteState, facts: csvFacts},
		{name: "CSV into PostgreSQL", factsIn: "pg", state: pgState, facts: csvFacts},
		{name: "SQLite facts into PostgreSQL", factsIn: "sqlite", state: pgState, facts: sqliteFacts},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := run(t, rs, c); got != reference {
				t.Fatalf("state after two applies differs from the co-located path:\n got %s\nwant %s", got, reference)
			}
		})
	}
}

// run applies rs twice, a month of facts apart, and returns a digest of
// the state it leaves.
func run(t *testing.T, rs *rules.RuleSet, w wiring) string {
	t.Helper()
	ctx := context.Background()
	st := w.state(t)
	if _, err := st.Migrate(ctx, false); err != nil {
		t.Fatal(err)
	}
	var f *factsDB
	switch w.factsIn {
	case "pg":
		url := pgtest.URL(t)
		db, err := sqlx.Open("postgres", url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f = &factsDB{db: db, ddl: storetest.PostgresFactsDDL, url: url}
	case "sqlite":
		f = sqliteFactsDB(t)
	case "pg-state":
		f = &factsDB{db: st.(*postgres.Store).DB(), ddl: storetest.PostgresFactsDDL}
	case "sqlite-state":
		f = &factsDB{db: st.(*sqlite.Store).DB(), ddl: sqliteFactsDDL}
	}
	if _, err := f.db.Exec(f.ddl); err != nil {
		t.Fatal(err)
	}
	storetest.InsertCustomers(t, f.db, 1, customers)
	src, refresh := w.facts(t, st, f)
	facts := jobs.FactsByRuleSet{rs.Name: src}
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	opts := jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard, Workers: 2, BatchSize: 100}
	opts.Guard.AllowLarge = true
	if _, err := jobs.Apply(ctx, st, facts, rs, opts); err != nil {
		t.Fatalf("%s: first apply: %v", w.name, err)
	}
	storetest.ShiftFacts(t, f.db)
	refresh()
	opts.AsOf = asOf.AddDate(0, 0, 31)
	out, err := jobs.Apply(ctx, st, facts, rs, opts)
	if err != nil {
		t.Fatalf("%s: second apply: %v", w.name, err)
	}
	if out.Report.Changed == 0 || out.Report.ActionsTotal == 0 {
		t.Fatalf("%s: the second apply changed %d customers and queued %d actions; the case needs both", w.name, out.Report.Changed, out.Report.ActionsTotal)
	}
	return digest(t, st, rs)
}

func pgState(t *testing.T) state {
	s, err := postgres.Open(context.Background(), postgres.Config{URL: pgtest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sqliteState(t *testing.T) state {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pgDatabase is the facts table's database opened as a facts-only source,
// by URL, as the config's databases: entries open it.
func pgDatabase(t *testing.T, f *factsDB) jobs.FactsSource {
	db, err := postgres.OpenDatabase(context.Background(), f.url, "warehouse")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Source("SELECT * FROM customer_facts")
}

func sqliteFactsDB(t *testing.T) *factsDB {
	path := filepath.Join(t.TempDir(), "warehouse.db")
	db, err := sqlx.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &factsDB{db: db, ddl: sqliteFactsDDL, path: path}
}

func sqliteFacts(t *testing.T, _ state, f *factsDB) (jobs.FactsSource, func()) {
	db, err := sqlite.OpenDatabase(context.Background(), f.path, "warehouse")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Source("customer_facts"), func() {}
}

// csvFacts exports the facts table to a CSV file, gzipped, in the shuffled
// order of a real export, and re-exports it when the facts change.
func csvFacts(t *testing.T, _ state, f *factsDB) (jobs.FactsSource, func()) {
	path := filepath.Join(t.TempDir(), "customers.csv.gz")
	export := func() { exportCSV(t, f.db, path) }
	export()
	src, err := factsfile.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	return src, export
}

func exportCSV(t *testing.T, db *sqlx.DB, path string) {
	t.Helper()
	rows, err := db.Query(`SELECT customer_id, spend_12m, spend_prev_12m, orders_12m, first_order_at, last_order_at, channel
		FROM customer_facts ORDER BY (customer_id * 7919) % 1009, customer_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	zw := gzip.NewWriter(file)
	defer func() {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	w := csv.NewWriter(zw)
	w.Write([]string{"customer_id", "spend_12m", "spend_prev_12m", "orders_12m", "first_order_at", "last_order_at", "channel"}) //nolint:errcheck
	for rows.Next() {
		var id, orders int64
		var spend, prev *float64
		var first time.Time
		var last *time.Time
		var channel string
		if err := rows.Scan(&id, &spend, &prev, &orders, &first, &last, &channel); err != nil {
			t.Fatal(err)
		}
		rec := []string{strconv.FormatInt(id, 10), num(spend), num(prev), strconv.FormatInt(orders, 10), first.UTC().Format(time.DateOnly), "", channel}
		if last != nil {
			rec[5] = last.UTC().Format(time.RFC3339)
		}
		w.Write(rec) //nolint:errcheck
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
}

func num(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

// digest hashes every customer's state as the engine reads it, the whole
// action queue without surrogate ids, and every customer's moves.
func digest(t *testing.T, st state, rs *rules.RuleSet) string {
	t.Helper()
	ctx := context.Background()
	reader, err := st.OpenState(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	batch := make([]engine.Customer, customers)
	for i := range batch {
		batch[i].Key = strconv.Itoa(i + 1)
	}
	if err := reader.Load(ctx, batch); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	assigned := 0
	for _, c := range batch {
		for _, a := range c.State.Segments {
			if a.Segment != "" {
				assigned++
			}
			fmt.Fprintf(h, "%s|%s|%s|%s\n", c.Key, a.Segment, a.Since.UTC().Format(time.RFC3339Nano), a.PendingSince.UTC().Format(time.RFC3339Nano))
		}
		for _, l := range c.State.LastActions {
			fmt.Fprintf(h, "%s|last|%s\n", c.Key, l.UTC().Format(time.RFC3339Nano))
		}
	}
	acts, err := st.Actions(ctx, kernel.ActionFilter{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	lines := make([]string, 0, len(acts))
	for _, a := range acts {
		// jsonb (PostgreSQL) and text (SQLite) space JSON differently.
		var payload any
		if err := json.Unmarshal(a.Payload, &payload); err != nil {
			t.Fatalf("action %d: payload %s: %v", a.ID, a.Payload, err)
		}
		canon, _ := json.Marshal(payload)
		lines = append(lines, fmt.Sprintf("%s|%s|%s|%s|%d|%s|%s", a.Action, a.Customer, canon, a.Status, a.Priority,
			a.DueAt.UTC().Format(time.RFC3339Nano), a.Idempotent))
	}
	moves := 0
	for _, c := range batch {
		hist, err := st.History(ctx, rs.Name, c.Key)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range hist {
			from := "-"
			if e.From != nil {
				from = *e.From
			}
			lines = append(lines, fmt.Sprintf("h|%s|%s|%s|%s|%s|%s", c.Key, e.Segmentation, from, e.To, e.Matched, e.AsOf.UTC().Format(time.RFC3339Nano)))
			moves++
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(h, l)
	}
	return fmt.Sprintf("%x (%d assignments, %d actions, %d moves)", h.Sum(nil)[:8], assigned, len(acts), moves)
}
