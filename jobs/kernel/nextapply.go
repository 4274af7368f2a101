package kernel

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// NextTable is the temporary table NextApply.Create makes: a row per
// customer of the source with its whole evaluation.
const NextTable = "tierflow_next"

// Statement is one SQL statement and its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// NextApply stages in the database what an apply of the customers the
// whole-evaluation statement decides would stage (StateChanges), into an
// apply's staging table with the columns StateUpsertSQL reads: the rows
// of history ('a'), of actions to queue ('q') and of state ('s'), so that
// the apply's commit merges them as it merges the engine's. Create
// materialises every customer's evaluation in NextTable (run it in a
// transaction set up with sqlexpr.NextSettings); Moves, Queue and States
// stage from it the customers who are not for the engine; Engine selects
// the keys of those who are, whom the engine must evaluate and stage as
// it always does.
//
// The staged state rows are those of customers whose assignment changes,
// who are queued an action, or who have no state row yet. Their mark is
// their facts' digest and a wake-up time of every run: the statement
// does not compute when a customer could next change, so the next
// incremental run evaluates them. The marks of the customers left as
// they are stay as they were, made under whatever rules made them: a run
// that stages this way leaves stale marks, as a decided run does
// (jobs.IncrementalReport.StaleMarks).
type NextApply struct {
	Create               Statement
	Moves, Queue, States Statement
	Engine               string
	rs                   *rules.RuleSet
	noActions            bool
	byteOrder            string // the key in byte order
}

// NextApplyOf is the NextApply of rule set rs over the source query src,
// at the run's as-of, for the apply's layout lay (which holds every
// segmentation and action of rs: Layout.Register) and run, staging into
// the table stage. With noActions (a first run that queues none) Queue
// is empty and no cooldown starts. why says, where the NextApply is nil,
// what rules it out, as for NextStatement; customers leaving the source
// are not in the statement, and the run finds them as it always does
// (StateKeys).
func NextApplyOf(ctx context.Context, q Queryer, d *Dialect, t Tables, rs *rules.RuleSet, src string, lay *Layout, run jobs.RunInfo, stage string, noActions bool) (*NextApply, string, error) {
	asOf := run.AsOf
	w, why, err := wholeOf(ctx, q, d, rs, lay, src, asOf)
	if w == nil {
		return nil, why, err
	}
	c, converts, next := w.c, w.converts, w.next
	key, facts := factExprs(d, rs, w.cols)
	sel := []string{key + " AS key", "CASE WHEN " + converts + " THEN " + next.Bad + " ELSE TRUE END AS engine",
		"st.customer_key IS NOT NULL AS known", digestExpr(d, facts) + " AS digest"}
	for i, s := range next.Segmentations {
		p, prev := "s"+strconv.Itoa(i), c.State[i]
		sel = append(sel, prev.Segment+" AS "+p+"_prev", prev.Since+" AS "+p+"_prev_since", prev.PendingSince+" AS "+p+"_prev_pending",
			s.Segment+" AS "+p+"_segment", s.Since+" AS "+p+"_since", s.PendingSince+" AS "+p+"_pending",
			s.Reason+" AS "+p+"_reason", s.Matched+" AS "+p+"_matched")
	}
	for k, a := range next.Actions {
		p := "a" + strconv.Itoa(k)
		sel = append(sel, a.Fires+" AS "+p+"_fires", a.Payload+" AS "+p+"_payload")
	}
	join := fmt.Sprintf("LEFT JOIN %s st ON st.ruleset = %s AND st.customer_key = %s", t.State, QuoteLiteral(rs.Name), key)
	n := &NextApply{
		Create: Statement{SQL: "CREATE TEMP TABLE " + NextTable + " ON COMMIT DROP AS\nSELECT " + strings.Join(sel, ", ") +
			fmt.Sprintf("\nFROM (%s) AS src\n", src) + join + next.From, Args: []any{d.TimeArg(asOf)}},
		Engine: "SELECT key FROM " + NextTable + " WHERE engine",
		rs:     rs, noActions: noActions, byteOrder: d.ByteOrder("key"),
	}
	n.stage(d, lay, run, stage)
	return n, "", nil
}

// changes is the condition on a row of NextTable that segmentation i's
// assignment changes: a segment, and one unlike the previous, or other
// since or pending-since dates.
func changes(i int) string {
	p := "s" + strconv.Itoa(i)
	return "(" + p + "_segment IS NOT NULL AND (" + p + "_segment IS DISTINCT FROM " + p + "_prev OR " +
		p + "_since IS DISTINCT FROM " + p + "_prev_since OR " + p + "_pending IS DISTINCT FROM " + p + "_prev_pending))"
}

func (n *NextApply) stage(d *Dialect, lay *Layout, run jobs.RunInfo, stage string) {
	rs, noActions := n.rs, n.noActions
	var moves []string
	for i, s := range rs.Segmentations {
		p := "s" + strconv.Itoa(i)
		moves = append(moves, "SELECT 'a', "+QuoteLiteral(s.Name)+", key, "+p+"_segment, "+p+"_matched, "+p+"_reason, "+p+"_prev FROM "+NextTable+
			" WHERE NOT engine AND "+p+"_segment IS NOT NULL AND "+p+"_segment IS DISTINCT FROM "+p+"_prev")
	}
	if len(moves) > 0 {
		n.Moves.SQL = "INSERT INTO " + stage + " (kind, name, customer_key, segment, matched, reason, prev_segment)\n" + strings.Join(moves, "\nUNION ALL\n")
	}
	asOf := d.TimeArg(run.AsOf)
	// set{i}: segmentation i's assignment changes, computed once per
	// row for the state rows' arrays and the choice of rows.
	dirty, sets := []string{"NOT known"}, []string{"*"}
	for i := range rs.Segmentations {
		set := "set" + strconv.Itoa(i)
		dirty, sets = append(dirty, set), append(sets, changes(i)+" AS "+set)
	}
	if !noActions && len(rs.Actions) > 0 {
		var segs []string
		for i, s := range rs.Segmentations {
			segs = append(segs, QuoteLiteral(s.Name), "s"+strconv.Itoa(i)+"_segment")
		}
		segments := "jsonb_strip_nulls(jsonb_build_object(" + strings.Join(segs, ", ") + "))"
		stamp := "/" + run.AsOf.UTC().Format(time.RFC3339Nano)
		var queue []string
		for k, a := range rs.Actions {
			p := "a" + strconv.Itoa(k)
			dest := "NULL"
			if a.DeliverTo != "" {
				dest = QuoteLiteral(a.DeliverTo)
			}
			queue = append(queue, fmt.Sprintf("SELECT 'q', %s, key, COALESCE(%s_payload, '{}'::jsonb), %d, $1::timestamptz + interval '%d microseconds', %s || key || %s, %s, %s FROM %s WHERE NOT engine AND %s_fires",
				QuoteLiteral(a.Name), p, a.Priority, a.Delay.Microseconds(), QuoteLiteral(rs.Name+"/"+a.Name+"/"), QuoteLiteral(stamp), dest, segments, NextTable, p))
			dirty = append(dirty, p+"_fires")
		}
		n.Queue = Statement{SQL: "INSERT INTO " + stage + " (kind, name, customer_key, payload, priority, due_at, idem_key, destination, segments)\n" +
			strings.Join(queue, "\nUNION ALL\n"), Args: []any{asOf}}
	}
	// The state row's arrays, at the layout's positions: the values of
	// the assignments that change, NULL elsewhere (StateUpsertSQL keeps
	// the row's there); the as-of for each action queued.
	segAt := make([]int, lay.Segments()+1)
	for p := range segAt {
		segAt[p] = -1
	}
	for i, s := range rs.Segmentations {
		segAt[lay.Segment(s.Name)] = i
	}
	var segs, since, pending, reasons, runs, acts []string
	for p := 1; p <= lay.Segments(); p++ {
		i := segAt[p]
		if i < 0 {
			segs, since, pending = append(segs, "NULL"), append(since, "NULL"), append(pending, "NULL")
			reasons, runs = append(reasons, "NULL"), append(runs, "NULL")
			continue
		}
		s, set := "s"+strconv.Itoa(i), "WHEN set"+strconv.Itoa(i)+" THEN "
		segs = append(segs, "CASE "+set+s+"_segment END")
		since = append(since, "CASE "+set+"COALESCE("+s+"_since, $1::timestamptz) END")
		pending = append(pending, "CASE "+set+s+"_pending END")
		reasons = append(reasons, "CASE "+set+s+"_reason END")
		runs = append(runs, "CASE "+set+"$2::bigint END")
	}
	actAt := make([]int, lay.Actions()+1)
	for p := range actAt {
		actAt[p] = -1
	}
	if !noActions {
		for k, a := range rs.Actions {
			actAt[lay.Action(rs, a.Name)] = k
		}
	}
	for p := 1; p <= lay.Actions(); p++ {
		if k := actAt[p]; k >= 0 {
			acts = append(acts, "CASE WHEN a"+strconv.Itoa(k)+"_fires THEN $1::timestamptz END")
		} else {
			acts = append(acts, "NULL")
		}
	}
	arr := d.State.Array
	n.States = Statement{SQL: "INSERT INTO " + stage + " (kind, name, customer_key, st_segments, st_since, st_pending_since, st_reasons, st_run_ids, st_action_at, st_wake_at, st_facts_digest)\n" +
		"SELECT 's', '', key, " + strings.Join([]string{arr(TextElems, segs), arr(TimeElems, since), arr(TimeElems, pending), arr(TextElems, reasons),
		arr(IntElems, runs), arr(TimeElems, acts)}, ", ") + ", " + d.Decide.Time(engine.EveryRun) + ", digest\n" +
		"FROM (SELECT " + strings.Join(sets, ", ") + " FROM " + NextTable + " WHERE NOT engine) AS n\nWHERE " + strings.Join(dirty, " OR "),
		Args: []any{asOf, run.ID}}
}

// Count adds to plan what the run decided in the database, once Create
// has run in the transaction q: the customers who are not for the
// engine, counted by their segments before and after and the actions
// queued for them (engine.Plan.AddGroup), and, while the plan has room
// for samples, the first of them to move in key order.
func (n *NextApply) Count(ctx context.Context, q Queryer, plan *engine.Plan) error {
	var group []string
	for i := range n.rs.Segmentations {
		p := "s" + strconv.Itoa(i)
		group = append(group, "COALESCE("+p+"_prev, '')", "COALESCE("+p+"_segment, '')")
	}
	acts := 0
	if !n.noActions {
		for k := range n.rs.Actions {
			group = append(group, "a"+strconv.Itoa(k)+"_fires")
		}
		acts = len(n.rs.Actions)
	}
	sel := append(append([]string{}, group...), "count(*)")
	query := "SELECT " + strings.Join(sel, ", ") + " FROM " + NextTable + " WHERE NOT engine"
	if len(group) > 0 {
		query += " GROUP BY " + strings.Join(group, ", ")
	}
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	segs := len(n.rs.Segmentations)
	prev, next, fires := make([]string, segs), make([]string, segs), make([]bool, acts)
	var count int
	dest := make([]any, 0, len(sel))
	for i := range segs {
		dest = append(dest, &prev[i], &next[i])
	}
	for k := range fires {
		dest = append(dest, &fires[k])
	}
	dest = append(dest, &count)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		plan.AddGroup(prev, next, fires, count)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if room := engine.MaxSamples - len(plan.Samples); room > 0 && segs > 0 {
		return n.samples(ctx, q, plan, room)
	}
	return nil
}

// samples adds to plan the moves of the first customers who move, in
// key order, up to room of them, as Add samples a customer's moves.
func (n *NextApply) samples(ctx context.Context, q Queryer, plan *engine.Plan, room int) error {
	var moved, cols []string
	for i := range n.rs.Segmentations {
		p := "s" + strconv.Itoa(i)
		moved = append(moved, "COALESCE("+p+"_segment, '') <> COALESCE("+p+"_prev, '')")
		cols = append(cols, "COALESCE("+p+"_prev, '')", "COALESCE("+p+"_segment, '')", "COALESCE("+p+"_reason, '')")
	}
	rows, err := q.QueryContext(ctx, "SELECT key, "+strings.Join(cols, ", ")+" FROM "+NextTable+" WHERE NOT engine AND ("+strings.Join(moved, " OR ")+
		") ORDER BY "+n.byteOrder+" LIMIT "+strconv.Itoa(room))
	if err != nil {
		return err
	}
	defer rows.Close()
	var key string
	vals := make([]string, len(cols))
	dest := []any{&key}
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i, s := range n.rs.Segmentations {
			from, to, why := vals[3*i], vals[3*i+1], vals[3*i+2]
			if from == to {
				continue
			}
			reason, ok := engine.ParseReason(why)
			if !ok {
				return fmt.Errorf("customer %s: segmentation %s: the database's reason %q is not one the engine gives", key, s.Name, why)
			}
			plan.AddSample(engine.Sample{Key: key, Segmentation: s.Name, From: from, To: to, Reason: reason})
		}
	}
	return rows.Err()
}
