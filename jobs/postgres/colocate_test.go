package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// Citus runs a join of distributed tables on its workers only when the
// tables are joined on their distribution columns, and a join of a
// distributed table with a local one, or a subquery correlated with one,
// only on the same terms. With the facts and customer_state distributed
// by the customer key (docs/operations.md#citus), every statement of a
// run must therefore join them, to each other and to anything else, by
// that key. This records every statement tierflow sends in a first
// apply, incremental applies with the database deciding and with the
// marks alone, a plan, the night after a rule change and a sharded
// night, has PostgreSQL plan each one that reads either table (EXPLAIN,
// on the statement's own connection, before it runs), and checks every
// join and correlated subquery in the plans. It fails on a join by the
// rule set alone, as a sharded run's first-run flag was set before it
// was written for Citus.
func TestStatementsJoinStateByCustomerKey(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	rec := &recorder{}
	connector, err := pq.NewConnector(url)
	if err != nil {
		t.Fatal(err)
	}
	db := sqlx.NewDb(sql.OpenDB(recordingConnector{connector, rec}), "postgres")
	db.SetMaxIdleConns(idleConns)
	t.Cleanup(func() { db.Close() })
	s := &Store{db: db, schema: "tierflow", secrets: kernel.SecretsOf(url)}
	if _, err := s.Migrate(ctx, false); err != nil {
		t.Fatal(err)
	}
	// The facts keyed by text, as Citus needs them to co-locate with the
	// state (an integer key is joined by its text, which Citus cannot).
	mustExecDB(t, db, textFactsDDL)
	mustExecDB(t, db, `SELECT setseed(0.17)`)
	mustExecDB(t, db, `INSERT INTO customer_facts SELECT g::text, round((random() ^ 3 * 80000)::numeric, 2),
		round((random() ^ 3 * 80000)::numeric, 2), (random() * 12)::int, date '2024-07-01' - (random() * 2000)::int,
		CASE WHEN random() < 0.05 THEN NULL ELSE timestamptz '2024-07-01' - (random() * 500)::int * interval '1 day' END,
		(ARRAY['online', 'store', 'partner'])[1 + (g % 3)] FROM generate_series(1, 3000) AS g`)
	src := jobs.FactsByRuleSet{"retail": s.Source("customer_facts")}
	rs := storetest.RetailRuleSet(t, storetest.WithoutCoverage...)
	day := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	night := func(name string, o jobs.Options, plan bool) *jobs.Outcome {
		t.Helper()
		run := jobs.Apply
		if plan {
			run = jobs.Plan
		}
		o.AsOf, o.Guard, o.BatchSize = day, jobs.Guard{MaxErrorRate: -1}, 500
		out, err := run(ctx, s, src, rs, o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return out
	}
	night("first apply", jobs.Options{}, false)
	// Each night a seventh of the customers spend less, one in a hundred
	// leaves and ten arrive.
	month := 0
	change := func() {
		day, month = day.AddDate(0, 1, 0), month+1
		mustExecDB(t, db, `UPDATE customer_facts SET spend_12m = spend_12m * 0.4, last_order_at = $1 WHERE customer_id::int % 7 = 0`, day.AddDate(0, 0, -3))
		mustExecDB(t, db, `DELETE FROM customer_facts WHERE customer_id::int % 100 = $1`, month)
		mustExecDB(t, db, `INSERT INTO customer_facts SELECT (3000 + $1::int * 10 + g)::text, 500, 100, 1, $2::date, $2::timestamptz, 'online'
			FROM generate_series(1, 10) AS g`, month, day.AddDate(0, 0, -1))
	}
	change()
	if r := night("incremental plan", jobs.Options{Incremental: true}, true).Report.Incremental; r == nil || !r.InDatabase {
		t.Fatalf("the incremental plan did not decide in the database: %+v", r)
	}
	night("incremental apply", jobs.Options{Incremental: true}, false)
	change()
	night("incremental apply, engine only", jobs.Options{Incremental: true, EngineOnly: true}, false)
	change()
	rs = storetest.RetailRuleSet(t, append([]string{"ruleset: retail\n", "ruleset: retail\n# edited\n"}, storetest.WithoutCoverage...)...)
	if r := night("after a rule change", jobs.Options{Incremental: true}, false).Report.Incremental; r == nil || r.Full == "" || !r.InDatabase {
		t.Fatalf("the night after a rule change was not decided in the database: %+v", r)
	}
	change()
	for i := range 2 {
		night(fmt.Sprintf("shard %d/2", i), jobs.Options{Incremental: true, Shard: jobs.Shard{Index: i, Count: 2}}, false)
	}

	distributed := map[string]bool{"customer_facts": true, "customer_state": true}
	checked, joins := 0, 0
	for _, st := range rec.plans() {
		if st.err != "" {
			t.Errorf("EXPLAIN failed: %s\n%s", st.err, st.query)
			continue
		}
		checked++
		for _, bad := range offKeyJoins(st.plan, distributed, &joins) {
			t.Errorf("%s\nin the plan of:\n%s", bad, st.query)
		}
	}
	t.Logf("%d statements read the facts or the state; %d joins and correlated subqueries with them checked", checked, joins)
	if checked < 10 || joins < 5 {
		t.Fatalf("only %d statements and %d joins checked: the recording missed the runs' reads", checked, joins)
	}
}

// textFactsDDL is the retail example's facts table with a text key.
const textFactsDDL = `CREATE TABLE customer_facts (customer_id text PRIMARY KEY, spend_12m numeric NOT NULL,
	spend_prev_12m numeric NOT NULL, orders_12m integer NOT NULL, first_order_at date NOT NULL,
	last_order_at timestamptz, channel text NOT NULL)`

func mustExecDB(t *testing.T, db *sqlx.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
}

// planNode is the part of a node of EXPLAIN (FORMAT JSON, VERBOSE) that
// says what it reads and on what condition.
type planNode struct {
	NodeType   string     `json:"Node Type"`
	Relation   string     `json:"Relation Name"`
	Parent     string     `json:"Parent Relationship"`
	HashCond   string     `json:"Hash Cond"`
	MergeCond  string     `json:"Merge Cond"`
	JoinFilter string     `json:"Join Filter"`
	IndexCond  string     `json:"Index Cond"`
	Recheck    string     `json:"Recheck Cond"`
	Filter     string     `json:"Filter"`
	Plans      []planNode `json:"Plans"`
}

// relations lists the tables n's subtree scans, not counting its
// subplans (which are checked on their own).
func (n *planNode) relations(into map[string]bool) map[string]bool {
	if into == nil {
		into = map[string]bool{}
	}
	if n.Relation != "" {
		into[n.Relation] = true
	}
	for i := range n.Plans {
		if c := &n.Plans[i]; c.Parent != "SubPlan" && c.Parent != "InitPlan" {
			c.relations(into)
		}
	}
	return into
}

// conditions are the conditions n's subtree applies (a nested loop's
// inner index lookups carry its join condition).
func (n *planNode) conditions() []string {
	out := []string{n.HashCond, n.MergeCond, n.JoinFilter, n.IndexCond, n.Recheck, n.Filter}
	for i := range n.Plans {
		if c := &n.Plans[i]; c.Parent != "SubPlan" && c.Parent != "InitPlan" {
			out = append(out, c.conditions()...)
		}
	}
	return out
}

// keyEquality is a condition equating a customer key with another: the
// state's customer_key, the facts' customer_id, or a staging table's.
var keyEquality = regexp.MustCompile(`\bcustomer_(?:key|id)\)?(?:::text)?\)? = \(?\(?(?:\w+\.)?customer_(?:key|id)\b`)

// offKeyJoins lists the joins and correlated subqueries of plan that
// bring a distributed table together with another table on anything
// but the customer key. joins counts those checked.
func offKeyJoins(plan planNode, distributed map[string]bool, joins *int) []string {
	var bad []string
	has := func(rels map[string]bool) bool {
		for r := range rels {
			if distributed[r] {
				return true
			}
		}
		return false
	}
	keyed := func(conds []string) bool {
		for _, c := range conds {
			if keyEquality.MatchString(c) {
				return true
			}
		}
		return false
	}
	var walk func(n *planNode)
	walk = func(n *planNode) {
		switch n.NodeType {
		case "Nested Loop", "Hash Join", "Merge Join":
			if len(n.Plans) == 2 {
				outer, inner := n.Plans[0].relations(nil), n.Plans[1].relations(nil)
				if len(outer) > 0 && len(inner) > 0 && (has(outer) || has(inner)) {
					*joins++
					if !keyed(n.conditions()) {
						bad = append(bad, fmt.Sprintf("%s of %v with %v not on the customer key: %q", n.NodeType, keys(outer), keys(inner), strings.Join(n.conditions(), " ")))
					}
				}
			}
		}
		for i := range n.Plans {
			c := &n.Plans[i]
			if c.Parent == "SubPlan" && has(c.relations(nil)) {
				*joins++
				if !keyed(c.conditions()) {
					bad = append(bad, fmt.Sprintf("a subquery correlated by other than the customer key reads %v: %q", keys(c.relations(nil)), strings.Join(c.conditions(), " ")))
				}
			}
			walk(c)
		}
	}
	walk(&plan)
	return bad
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// recorder keeps, for each distinct statement that reads the facts or
// the state, its plan as PostgreSQL made it just before it ran.
type recorder struct {
	mu    sync.Mutex
	seen  map[string]bool
	stmts []recorded
}

type recorded struct {
	query, err string
	plan       planNode
}

func (r *recorder) plans() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.stmts...)
}

// explain plans query on conn, when it is a statement that reads the
// facts or the state and was not planned before.
func (r *recorder) explain(ctx context.Context, conn pqConn, query string, args []driver.NamedValue) {
	head := strings.ToUpper(strings.TrimSpace(query))
	if !strings.Contains(query, "customer_state") && !strings.Contains(query, "customer_facts") {
		return
	}
	dml := false
	for _, p := range []string{"SELECT", "WITH", "INSERT", "UPDATE", "DELETE"} {
		dml = dml || strings.HasPrefix(head, p)
	}
	if !dml || strings.Contains(query, ";") {
		return
	}
	r.mu.Lock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if r.seen[query] {
		r.mu.Unlock()
		return
	}
	r.seen[query] = true
	r.mu.Unlock()
	st := recorded{query: query}
	rows, err := conn.QueryContext(ctx, "EXPLAIN (VERBOSE, FORMAT JSON) "+query, args)
	if err == nil {
		dest := []driver.Value{nil}
		var text string
		for rows.Next(dest) == nil {
			switch v := dest[0].(type) {
			case []byte:
				text += string(v)
			case string:
				text += v
			}
		}
		rows.Close()
		var out []struct {
			Plan planNode `json:"Plan"`
		}
		if err = json.Unmarshal([]byte(text), &out); err == nil && len(out) == 1 {
			st.plan = out[0].Plan
		} else if err == nil {
			err = fmt.Errorf("EXPLAIN gave %d plans", len(out))
		}
	}
	if err != nil {
		st.err = err.Error()
	}
	r.mu.Lock()
	r.stmts = append(r.stmts, st)
	r.mu.Unlock()
}

// pqConn is what lib/pq's connections implement and database/sql uses.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

type recordingConnector struct {
	driver.Connector
	r *recorder
}

func (c recordingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(pqConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("lib/pq's connection %T lacks an interface database/sql uses", conn)
	}
	return recordingConn{pc, c.r}, nil
}

// recordingConn is a lib/pq connection that has each statement planned
// before it runs.
type recordingConn struct {
	pqConn
	r *recorder
}

func (c recordingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.r.explain(ctx, c.pqConn, query, args)
	return c.pqConn.ExecContext(ctx, query, args)
}

func (c recordingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.r.explain(ctx, c.pqConn, query, args)
	return c.pqConn.QueryContext(ctx, query, args)
}
