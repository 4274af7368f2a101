package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// env is one case's database and a migrated store on it.
type env struct {
	t *testing.T
	b Backend
	s Store
	f jobs.FactsSource // the suite's rule sets' facts, on s's database
}

// newEnv makes a new database, opens and migrates a store on it, and
// fills customer_facts with n generated customers.
func newEnv(t *testing.T, newBackend func(t *testing.T) Backend, n int) *env {
	t.Helper()
	e := newBareEnv(t, newBackend)
	if _, err := e.s.Migrate(context.Background(), false); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	CreateFacts(t, e.s, e.b.FactsDDL, n)
	return e
}

// newBareEnv is newEnv without migrating or creating facts.
func newBareEnv(t *testing.T, newBackend func(t *testing.T) Backend) *env {
	t.Helper()
	b := newBackend(t)
	s := b.Open(t)
	return &env{t: t, b: b, s: s, f: factsOf(s)}
}

// open opens another store on the case's database.
func (e *env) open() Store { return e.b.Open(e.t) }

// sql replaces {table} with the qualified name of tierflow's table.
func (e *env) sql(q string) string {
	if !strings.Contains(q, "{") {
		return q
	}
	var pairs []string
	for _, name := range []string{"runs", "assignments", "history", "actions", "action_attempts", "action_last", "slots", "schema_migrations",
		"customer_state", "state_layout", "state_tally"} {
		pairs = append(pairs, "{"+name+"}", quoteIdent(e.s.Schema())+"."+name)
	}
	return strings.NewReplacer(pairs...).Replace(q)
}

func (e *env) exec(q string, args ...any) {
	e.t.Helper()
	if _, err := e.s.DB().Exec(e.sql(q), args...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.s.DB().QueryRow(e.sql(q), args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// scan runs a query returning one row into dest.
func (e *env) scan(q string, args []any, dest ...any) {
	e.t.Helper()
	if err := e.s.DB().QueryRow(e.sql(q), args...).Scan(dest...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
}

// applyAt runs an apply at the given as-of with o's other options and
// requires it to succeed.
func (e *env) applyAt(rs *rules.RuleSet, at time.Time, o jobs.Options) *jobs.Outcome {
	e.t.Helper()
	o.AsOf = at
	out, err := jobs.Apply(context.Background(), e.s, e.f, rs, o)
	if err != nil {
		e.t.Fatalf("apply as of %s: %v", at.Format(time.DateOnly), err)
	}
	checkDrift(e.t, out, at)
	return out
}

// checkDrift fails the test when the apply out found customers whose
// marks said they needed no evaluation but whose evaluation changed
// something (jobs.IncrementalReport.Drift): every apply of every case is
// a check of the wake-up times and digests an incremental run would
// trust.
func checkDrift(t testing.TB, out *jobs.Outcome, at time.Time) {
	t.Helper()
	if r := out.Report.Incremental; r != nil && r.Drift != 0 {
		t.Fatalf("apply as of %s: %d customers drift (asleep by their marks, changed by their evaluation), such as %v",
			at.Format(time.DateOnly), r.Drift, r.DriftSamples)
	}
}

// runStatuses counts runs by status.
func (e *env) runStatuses() map[string]int {
	e.t.Helper()
	rows, err := e.s.DB().Query(e.sql(`SELECT status, count(*) FROM {runs} GROUP BY status`))
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			e.t.Fatal(err)
		}
		out[st] = n
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// noDuplicateActions fails if any customer has one action queued twice
// in one rule set at one as-of, or an idempotency key twice.
func (e *env) noDuplicateActions() {
	e.t.Helper()
	if n := e.count(`SELECT count(*) FROM (SELECT 1 FROM {actions}
		GROUP BY ruleset, action, customer_key, created_at HAVING count(*) > 1) AS d`); n != 0 {
		e.t.Fatalf("%d customers have an action queued twice for one as-of", n)
	}
	if n := e.count(`SELECT count(*) - count(DISTINCT idempotency_key) FROM {actions}`); n != 0 {
		e.t.Fatalf("%d repeated idempotency keys", n)
	}
}

// run returns the run record with the given id.
func (e *env) run(id int64) (status, msg string) {
	e.t.Helper()
	var m *string
	e.scan(`SELECT status, error FROM {runs} WHERE id = $1`, []any{id}, &status, &m)
	if m != nil {
		msg = *m
	}
	return status, msg
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
