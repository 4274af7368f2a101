package storetest

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// Store is what the suite drives: the interfaces package jobs declares,
// and the query methods the CLI uses (history, actions, runs, migrate).
type Store interface {
	jobs.StateStore
	jobs.Joiner
	jobs.RunRecorder
	jobs.SlotStore
	// Source is a facts source on the store's own database.
	Source(query string) *kernel.QuerySource
	Migrate(ctx context.Context, dryRun bool) (*kernel.MigrationStatus, error)
	MigrationStatus(ctx context.Context) (*kernel.MigrationStatus, error)
	History(ctx context.Context, ruleset, customer string) ([]kernel.HistoryEntry, error)
	Actions(ctx context.Context, f kernel.ActionFilter) ([]kernel.QueuedAction, error)
	Runs(ctx context.Context, ruleset string, limit int) ([]kernel.Run, error)
	// Schema names the database schema that holds the state tables.
	Schema() string
	// DB is a read-write connection pool on the database; the suite's SQL
	// uses $1, $2, ... placeholders and SQL that both dialects accept.
	DB() *sqlx.DB
}

// Backend is one new, empty database of the kind under test.
type Backend struct {
	// Open opens a store on the database. Each call opens its own
	// connection pool, as another process would; the store is closed when
	// the test ends. The suite migrates the database itself.
	Open func(t testing.TB) Store
	// FactsDDL creates the customer_facts table in the backend's dialect,
	// with the columns of the retail example's facts: customer_id (an
	// integer key), spend_12m (a nullable number), spend_prev_12m
	// (number), orders_12m (integer), first_order_at (a date),
	// last_order_at (a nullable timestamp) and channel (text).
	FactsDDL string
	// Contents returns queries that together read everything in the
	// database: every table (the facts, tierflow's tables, its migration
	// record) and any sequence positions. A plan must leave their results
	// unchanged.
	Contents func(t testing.TB, s Store) []string
	// SetUpVersion builds tierflow's schema in the empty database as a
	// migrate of an older release left it, at the given version.
	SetUpVersion func(t testing.TB, s Store, version int)
	// Decides is true where the database runs the rules' SQL translation
	// to decide who is unchanged in an incremental run
	// (jobs.IncrementalReport.InDatabase): PostgreSQL.
	Decides bool
}

// asOf is the evaluation time most cases use.
var asOf = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

// day returns asOf moved by n days.
func day(n int) time.Time { return asOf.AddDate(0, 0, n) }

// Rule set names the suite configures: the retail example, a copy under
// another name (to show that locks are per rule set), and one whose
// facts source fails.
const (
	retailName = "retail"
	copyName   = "retail_copy"
	brokenName = "retail_broken"
)

// sources are the facts sources of the suite's rule sets, on the store's
// own database.
var sources = map[string]string{
	retailName: "customer_facts",
	copyName:   "customer_facts",
	brokenName: "SELECT * FROM customer_facts_that_do_not_exist",
}

// factsOf routes the suite's rule sets to their sources on s's database.
func factsOf(s Store) jobs.FactsByRuleSet {
	f := jobs.FactsByRuleSet{}
	for name, q := range sources {
		f[name] = s.Source(q)
	}
	return f
}

// retailPath is the retail example's rule file, found from this file's
// location so that every backend's tests find it.
func retailPath(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the storetest package's source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "retail", "retail.yaml")
}

// RetailRuleSet compiles the retail example, with each pair of
// replacements (old, new) applied to its text first; the file must
// contain every old string. Its contact limits and holdouts are taken off
// (Unwithheld): the cases count on every action that fires being queued,
// and the follow-up cases test withholding on rule sets of their own.
func RetailRuleSet(t testing.TB, replace ...string) *rules.RuleSet {
	t.Helper()
	return Unwithheld(retailWithheld(t, replace...))
}

// retailWithheld is RetailRuleSet with the example's contact limits and
// holdouts kept.
func retailWithheld(t testing.TB, replace ...string) *rules.RuleSet {
	t.Helper()
	src, err := os.ReadFile(retailPath(t))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(text, replace[i]) {
			t.Fatalf("retail.yaml no longer contains %q", replace[i])
		}
		text = strings.Replace(text, replace[i], replace[i+1], 1)
	}
	rs, err := rules.Compile("retail.yaml", []byte(text), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// Unwithheld takes rs's contact limits and holdouts off, in place, and
// returns it: every action that fires is queued. Neither is part of the
// compiled fast path (rules.RuleSet.Fast), which stays valid.
func Unwithheld(rs *rules.RuleSet) *rules.RuleSet {
	rs.Limits = nil
	for _, a := range rs.Actions {
		a.Holdout = rules.Holdout{}
	}
	return rs
}

// renamed is the retail example under another rule set name.
func renamed(t testing.TB, name string) *rules.RuleSet {
	return RetailRuleSet(t, "ruleset: retail\n", "ruleset: "+name+"\n")
}

// scheduled is the retail example with an hourly UTC schedule.
func scheduled(t testing.TB) *rules.RuleSet {
	rs := *RetailRuleSet(t)
	rs.Schedule = &rules.Schedule{Cron: "0 * * * *", Timezone: "UTC"}
	return &rs
}

// Options are the run options most cases use.
func Options() jobs.Options {
	return jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard, Workers: 2, BatchSize: 100}
}

// Run runs every conformance case against databases made by newBackend,
// each case on its own database, in parallel.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newBackend)
		})
	}
}

// cases are the conformance cases, grouped by what they cover.
var cases = concat(applyCases, planCases, guardCases, lockCases, runCases, slotCases, queryCases, migrateCases, followUpCases,
	reportMigrateCases, stateMigrateCases, layoutCases, markCases, changedCases)

type testCase struct {
	name string
	run  func(t *testing.T, newBackend func(t *testing.T) Backend)
}

func concat(groups ...[]testCase) []testCase {
	var out []testCase
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
