package kernel_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/storetest"
	"github.com/tierflow/tierflow/rules"
	"github.com/tierflow/tierflow/rules/sqlexpr"
)

// wholeRetail is the replacement that, with storetest.WithoutCoverage,
// makes the retail example translate whole (RetailRuleSet already drops
// its contact limits and holdouts): string() of an integer instead of a
// float.
var wholeRetail = []string{
	"string(round(-pct_change(spend_prev_12m, spend_12m)))", "string(int(round(-pct_change(spend_prev_12m, spend_12m))))",
}

// The whole evaluation in one statement (kernel.NextStatement) comes out as the
// engine's apply of the same night writes it: for every customer it
// does not leave to the engine, the state row's segments with their
// since and pending-since times, and the actions the run queued with
// their payloads. Over nights that move customers, start and end
// downgrade graces and reach the cooldowns of earlier actions.
func TestNextStatementIsTheApply(t *testing.T) {
	ctx := context.Background()
	s := factsStore(t, 3000)
	rs := storetest.RetailRuleSet(t, append(append([]string{}, storetest.WithoutCoverage...), wholeRetail...)...)
	facts := jobs.FactsByRuleSet{rs.Name: s.Source("customer_facts")}
	src, err := s.Source("customer_facts").SQL()
	if err != nil {
		t.Fatal(err)
	}
	tables := kernel.Tables{State: "tierflow.customer_state", Layout: "tierflow.state_layout", Actions: "tierflow.actions"}
	o := storetest.Options()
	o.Guard.AllowLarge = true
	o.Guard.MaxErrorRate = 1
	start := o.AsOf
	var compared, engine, moved, queued int
	for n, day := range []int{0, 3, 17, 40, 95, 110, 130, 400} {
		o.AsOf = start.AddDate(0, 0, day)
		if n > 0 {
			// A third of the customers spend less, a third more.
			exec(t, s, fmt.Sprintf(`UPDATE customer_facts SET spend_12m = CASE customer_id %% 3 WHEN 0 THEN spend_12m * 0.4 WHEN 1 THEN spend_12m * 2.5 ELSE spend_12m END,
				last_order_at = last_order_at + interval '%d days' * (customer_id %% 2)`, day))
		}
		stmt, why, err := kernel.NextStatement(ctx, s.DB(), postgres.Dialect, tables, rs, src, o.AsOf)
		if err != nil || stmt == "" {
			t.Fatalf("night %d: %v %s", n, err, why)
		}
		next := readNext(t, s.DB().DB, stmt, o.AsOf, len(rs.Segmentations), len(rs.Actions))
		out, err := jobs.Apply(ctx, s, facts, rs, o)
		if err != nil {
			t.Fatal(err)
		}
		applied := readApplied(t, s, tables, rs.Name, out.RunID, rs.Segmentations, rs.Actions)
		for key, want := range applied {
			got, ok := next[key]
			switch {
			case !ok:
				t.Fatalf("night %d: customer %s is not in the statement's rows", n, key)
			case got.engine:
				engine++
				continue
			case out.Report.Initial:
				got.actions = map[string]string{} // a first run queues no actions
			}
			if !got.same(want) {
				t.Fatalf("night %d (%s), customer %s:\nstatement %+v\napply     %+v", n, o.AsOf.Format(time.DateOnly), key, got, want)
			}
			compared++
			queued += len(want.actions)
		}
		moved += out.Report.Changed
	}
	t.Logf("%d customer-nights alike (%d moves, %d actions queued), %d left to the engine", compared, moved, queued, engine)
	if compared == 0 || moved == 0 || queued == 0 {
		t.Fatal("the nights have no customers compared, no moves or no actions")
	}
	if engine > compared/20 {
		t.Errorf("%d customer-nights left to the engine against %d decided in the statement", engine, compared)
	}
}

// customerNext is one customer's outcome of a night: per segmentation
// its segment, since and pending-since; its queued actions' payloads by
// name.
type customerNext struct {
	engine  bool
	segs    []string
	since   []time.Time
	pending []time.Time
	actions map[string]string
}

func (c customerNext) same(o customerNext) bool {
	if !reflect.DeepEqual(c.segs, o.segs) || len(c.actions) != len(o.actions) {
		return false
	}
	for i := range c.since {
		if !c.since[i].Equal(o.since[i]) || !c.pending[i].Equal(o.pending[i]) {
			return false
		}
	}
	for name, p := range c.actions {
		q, ok := o.actions[name]
		if !ok || !sameJSON(p, q) {
			return false
		}
	}
	return true
}

// sameJSON is whether two JSON texts hold the same value, numbers
// compared as float64.
func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}

func readNext(t *testing.T, db *sql.DB, stmt string, asOf time.Time, segs, acts int) map[string]customerNext {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	for _, s := range sqlexpr.NextSettings {
		if _, err := tx.Exec("SET LOCAL " + s); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(stmt, asOf)
	if err != nil {
		t.Fatalf("%v\n%s", err, stmt)
	}
	defer rows.Close()
	out := map[string]customerNext{}
	for rows.Next() {
		var key string
		c := customerNext{segs: make([]string, segs), since: make([]time.Time, segs), pending: make([]time.Time, segs), actions: map[string]string{}}
		seg := make([]sql.NullString, segs)
		since, pending := make([]sql.NullTime, segs), make([]sql.NullTime, segs)
		fires, payload := make([]bool, acts), make([]sql.NullString, acts)
		dest := []any{&key, &c.engine}
		for i := range segs {
			dest = append(dest, &seg[i], &since[i], &pending[i])
		}
		for i := range acts {
			dest = append(dest, &fires[i], &payload[i])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		for i := range segs {
			c.segs[i], c.since[i], c.pending[i] = seg[i].String, since[i].Time, pending[i].Time
		}
		for i := range acts {
			if fires[i] {
				c.actions[fmt.Sprint(i)] = payload[i].String
			}
		}
		out[key] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%v\n%s", err, stmt)
	}
	return out
}

// readApplied is what the apply of run runID wrote: each customer's state
// row of ruleset, and the actions the run queued, keyed by their index
// in acts.
func readApplied(t *testing.T, s *postgres.Store, tables kernel.Tables, ruleset string, runID int64, segs []*rules.Segmentation, acts []*rules.Action) map[string]customerNext {
	t.Helper()
	db := s.DB().DB
	lay, err := kernel.ReadLayout(context.Background(), db, tables, ruleset)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, sg := range segs {
		p := lay.Segment(sg.Name)
		cols = append(cols, fmt.Sprintf("segments[%d], since[%d], pending_since[%d]", p, p, p))
	}
	rows, err := db.Query("SELECT customer_key, "+strings.Join(cols, ", ")+" FROM "+tables.State+" WHERE ruleset = $1", ruleset)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]customerNext{}
	for rows.Next() {
		var key string
		n := len(segs)
		c := customerNext{segs: make([]string, n), since: make([]time.Time, n), pending: make([]time.Time, n), actions: map[string]string{}}
		seg := make([]sql.NullString, n)
		since, pending := make([]sql.NullTime, n), make([]sql.NullTime, n)
		dest := []any{&key}
		for i := range n {
			dest = append(dest, &seg[i], &since[i], &pending[i])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			c.segs[i], c.since[i], c.pending[i] = seg[i].String, since[i].Time, pending[i].Time
		}
		out[key] = c
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for i, a := range acts {
		index[a.Name] = i
	}
	rows, err = db.Query("SELECT customer_key, action, payload::text FROM "+tables.Actions+" WHERE ruleset = $1 AND run_id = $2", ruleset, runID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, action, payload string
		if err := rows.Scan(&key, &action, &payload); err != nil {
			t.Fatal(err)
		}
		out[key].actions[fmt.Sprint(index[action])] = payload
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func exec(t *testing.T, s *postgres.Store, q string) {
	t.Helper()
	if _, err := s.DB().Exec(q); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
}
