package kernel

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/jobs"
)

var _ jobs.EffectCounter = (*EffectsSQL)(nil)

// effectCountsSQL counts an effects report's observations in one
// statement, so that only a few hundred groups cross to Go. Its parts,
// filled in by effectCountsQuery:
//
//   - decided: the decisions of the compared actions as of $2 through $4
//     (the later of the period's end and the latest run: repeats within a
//     horizon cost), each with its customer's first one of the action
//     (row 1 of the window, by as-of then id): its as-of, group and
//     segments (%[12]s, read from the JSON, then %[2]s). The window
//     partitions by customer first: the sort then tells keys apart by
//     their leading bytes, not by an action name most rows share.
//   - firsts: those first decisions that are in the period (by $3) and
//     whose first horizon has passed by $5 (%[9]s), with the day each
//     horizon ends on (%[13]s).
//   - moved: each first decision's moves in the segmentations ($7) after
//     day 0 and by the last horizon, each with the as-of of the next one
//     in its segmentation, so that a move is the last by day h when it
//     is by day h and the next is not. A horizon counts only when it
//     ends by $5, so moves after $5 cannot be the last by one, and a next
//     one after $5 is as good as none: the bounds $2 and $5 on the
//     history, implied by the others, let a short period read a part of
//     it.
//
// The first branch of the union groups the first decisions by action,
// group and segments (%[4]s: per horizon, how many have passed it and
// how many treated decisions their customers had by then); the second
// groups the moves that are the last of their segmentation by a horizon
// by where they went (%[5]s: per horizon, how many). is_first is 1 or
// NULL rather than the row number compared with 1: PostgreSQL guesses
// that few rows have a row number of 1, and would plan the join of a
// million first decisions as if they were a few hundred.
const effectCountsSQL = `WITH decided AS MATERIALIZED (
	SELECT customer_key, action, created_at, treated,
	    CASE WHEN row_number() OVER w = 1 THEN 1 END AS is_first,
	    first_value(created_at) OVER w AS first_at, first_value(treated) OVER w AS first_treated%[2]s
	FROM (SELECT customer_key, action, created_at, id,
	        CASE WHEN status = '` + jobs.ActionHeldOut + `' THEN 0 ELSE 1 END AS treated%[12]s
	    FROM %[1]s
	    WHERE ruleset = $1 AND created_at >= $2 AND created_at <= $4 AND %[3]s
	        AND status NOT IN ('` + jobs.ActionSuppressed + `', '` + jobs.ActionCancelled + `') AND action NOT LIKE 'sync.%%') d
	WINDOW w AS (PARTITION BY customer_key, action ORDER BY created_at, id)
), firsts AS (
	SELECT customer_key, action, first_at, first_treated%[8]s%[13]s FROM decided
	WHERE is_first IS NOT NULL AND first_at <= $3 AND first_at <= %[9]s
), moved AS (
	SELECT f.action, f.first_treated%[10]s, m.segmentation, coalesce(m.to_segment, '') AS to_segment, m.as_of,
	    lead(m.as_of) OVER (PARTITION BY f.customer_key, f.action, m.segmentation ORDER BY m.as_of, m.id) AS next_at
	FROM firsts f JOIN %[6]s m ON m.ruleset = $1 AND m.customer_key = f.customer_key
	    AND m.as_of > f.first_at AND m.as_of <= f.%[11]s AND %[7]s AND m.as_of > $2 AND m.as_of <= $5
)
SELECT action, first_treated%[8]s, '' AS segmentation, '' AS to_segment%[4]s
FROM decided WHERE first_at <= $3 AND first_at <= %[9]s
GROUP BY action, first_treated%[8]s
UNION ALL
SELECT action, first_treated%[8]s, segmentation, to_segment%[5]s
FROM moved
GROUP BY action, first_treated%[8]s, segmentation, to_segment`

// effectCountsQuery is effectCountsSQL for q, and its arguments.
func (e *EffectsSQL) effectCountsQuery(q jobs.EffectCountsQuery) (string, []any) {
	d := e.Dialect
	until := q.Until
	if q.Latest.After(until) {
		until = q.Latest
	}
	actions, actionsArg := d.InKeys("action", 6, q.Actions)
	if e.Only != "" {
		actions += " AND " + e.Only
	}
	segs, segsArg := d.InKeys("m.segmentation", 7, q.Segmentations)
	args := []any{q.RuleSet, d.TimeArg(q.From), d.TimeArg(q.Until), d.TimeArg(until), d.TimeArg(q.Latest), actionsArg, segsArg}
	var read, xs, fx, mx strings.Builder
	for i, s := range q.Segmentations {
		x := "x" + strconv.Itoa(i)
		text, arg := d.JSONText("segments", 8+i, s)
		fmt.Fprintf(&read, ",\n\t        coalesce(%s, '') AS %s", text, x)
		fmt.Fprintf(&xs, ", first_value(%[1]s) OVER w AS %[1]s", x)
		fmt.Fprintf(&fx, ", %s", x)
		fmt.Fprintf(&mx, ", f.%s", x)
		args = append(args, arg)
	}
	var ends, firsts, moves strings.Builder
	for i, h := range q.Horizons {
		fmt.Fprintf(&ends, ", %s AS end%d", d.AddDays("first_at", h), i)
		fmt.Fprintf(&mx, ", f.end%d", i)
		fmt.Fprintf(&firsts, ",\n\t    count(CASE WHEN is_first = 1 AND first_at <= %[2]s THEN 1 END) AS observed%[3]d"+
			",\n\t    count(CASE WHEN first_treated = 1 AND treated = 1 AND first_at <= %[2]s AND created_at <= %[1]s THEN 1 END) AS spent%[3]d",
			d.AddDays("first_at", h), d.AddDays("$5", -h), i)
		fmt.Fprintf(&moves, ",\n\t    count(CASE WHEN end%[1]d <= $5 AND as_of <= end%[1]d AND (next_at IS NULL OR next_at > end%[1]d) THEN 1 END) AS observed%[1]d"+
			",\n\t    0 AS spent%[1]d", i)
	}
	return fmt.Sprintf(effectCountsSQL, e.Tables.Actions, xs.String(), actions, firsts.String(), moves.String(),
		e.Tables.History, segs, fx.String(), d.AddDays("$5", -q.Horizons[0]), mx.String(),
		"end"+strconv.Itoa(len(q.Horizons)-1), read.String(), ends.String()), args
}

// EffectCounts implements jobs.EffectCounter. Where the dialect has
// settings for large queries (AnalyticSettings), it runs in a read
// transaction that makes them.
func (e *EffectsSQL) EffectCounts(ctx context.Context, q jobs.EffectCountsQuery, fn func(*jobs.EffectCount) error) error {
	if len(q.Actions) == 0 || len(q.Horizons) == 0 {
		return nil
	}
	query, args := e.effectCountsQuery(q)
	db := e.DB
	if sdb, ok := e.DB.(*sql.DB); ok && len(e.Dialect.AnalyticSettings) > 0 {
		tx, err := sdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return fmt.Errorf("count the effects of %s: %w", q.RuleSet, e.Secrets.Err(err))
		}
		defer tx.Rollback() //nolint:errcheck // read only
		for _, set := range e.Dialect.AnalyticSettings {
			if _, err := tx.ExecContext(ctx, set); err != nil {
				return fmt.Errorf("count the effects of %s: %w", q.RuleSet, e.Secrets.Err(err))
			}
		}
		db = tx
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("count the effects of %s: %w", q.RuleSet, e.Secrets.Err(err))
	}
	defer rows.Close()
	if err := scanEffectCounts(rows, len(q.Segmentations), len(q.Horizons), fn); err != nil {
		return fmt.Errorf("count the effects of %s: %w", q.RuleSet, e.Secrets.Err(err))
	}
	return nil
}

// scanEffectCounts passes each row of effectCountsSQL to fn: action,
// treated (1) or held out (0), segments, segmentation, to, then observed
// and spent per horizon.
func scanEffectCounts(rows *sql.Rows, segs, horizons int, fn func(*jobs.EffectCount) error) error {
	c := jobs.EffectCount{Segments: make([]string, segs), Observed: make([]int64, horizons), Spent: make([]int64, horizons)}
	var treated int64
	dst := []any{&c.Action, &treated}
	for i := range c.Segments {
		dst = append(dst, &c.Segments[i])
	}
	dst = append(dst, &c.Segmentation, &c.To)
	for h := range horizons {
		dst = append(dst, &c.Observed[h], &c.Spent[h])
	}
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return err
		}
		c.HeldOut = treated == 0
		if err := fn(&c); err != nil {
			return err
		}
	}
	return rows.Err()
}
