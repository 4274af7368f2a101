package kernel

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/jobs"
)

// The state tally (Tables.Tally) counts a rule set's state rows by their
// segments at every layout position and whether they hold a facts
// digest. An incremental run needs those counts of every state row to
// report the customers it leaves unread (changedCounts.states); counting
// them scanned the whole state, 0.4-0.5 s at a million customers, about
// as long as reading the customers who changed. So every apply keeps the
// tally in its own transaction (TallyWrite), and a run reads the one
// row instead, or counts the rows as before where there is none.

// tallyGroups are state row counts by tallyKey.
type tallyGroups map[string]int64

// tallyKey is the group of a state row with segments segs (by layout
// position, "" for none) and a digest or not: trailing empty positions
// do not count, so that a row keeps its group when the layout grows.
func tallyKey(segs []string, digest bool) string {
	for len(segs) > 0 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1]
	}
	d := "0"
	if digest {
		d = "1"
	}
	return d + strings.Join(segs, "\x00")
}

// splitTallyKey is tallyKey's segments and digest.
func splitTallyKey(k string) (segs []string, digest bool) {
	if len(k) > 1 {
		segs = strings.Split(k[1:], "\x00")
	}
	return segs, k[0] == '1'
}

// tallyGroup is one group as the tally's row keeps it, in JSON.
type tallyGroup struct {
	Segments []string `json:"segments"`
	Digest   bool     `json:"digest"`
	Rows     int64    `json:"rows"`
}

// tallyQuery counts the rule set's ($1) state rows by group, those of
// the customers keys selects (a subquery) only, or all for "".
func tallyQuery(d *Dialect, t Tables, lay *Layout, keys string) string {
	var sel, by []string
	for p := 1; p <= lay.Segments(); p++ {
		sel = append(sel, d.State.Elem("t.segments", p))
		by = append(by, strconv.Itoa(p))
	}
	sel = append(sel, "t.facts_digest IS NOT NULL", "count(*)")
	by = append(by, strconv.Itoa(lay.Segments()+1))
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + t.State + " t WHERE t.ruleset = $1"
	if keys != "" {
		q += " AND t.customer_key IN (" + keys + ")"
	}
	return q + " GROUP BY " + strings.Join(by, ", ")
}

// countTally adds sign times the counts of query q (tallyQuery, with
// segs segment columns) to g.
func countTally(ctx context.Context, q Queryer, query string, segs int, ruleset string, sign int64, g tallyGroups) error {
	rows, err := q.QueryContext(ctx, query, ruleset)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]any, segs+2)
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	combo := make([]string, segs)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i := range combo {
			combo[i] = textValue(vals[i])
		}
		digest, err := boolValue(vals[segs])
		if err != nil {
			return err
		}
		n, err := int64Value(vals[segs+1])
		if err != nil {
			return err
		}
		k := tallyKey(combo, digest)
		if g[k] += sign * n; g[k] == 0 {
			delete(g, k)
		}
	}
	return rows.Err()
}

// loadTally reads the rule set's tally; ok is false where there is none.
func loadTally(ctx context.Context, q Queryer, t Tables, ruleset string) (g tallyGroups, ok bool, err error) {
	var text string
	err = q.QueryRowContext(ctx, "SELECT groups FROM "+t.Tally+" WHERE ruleset = $1", ruleset).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var groups []tallyGroup
	if err := json.Unmarshal([]byte(text), &groups); err != nil {
		return nil, false, fmt.Errorf("the state tally of %s cannot be read (%w)%s", ruleset, err, tallyAdvice)
	}
	g = tallyGroups{}
	for _, gr := range groups {
		if gr.Rows < 0 {
			return nil, false, fmt.Errorf("the state tally of %s counts %d rows in a group%s", ruleset, gr.Rows, tallyAdvice)
		}
		g[tallyKey(gr.Segments, gr.Digest)] += gr.Rows
	}
	return g, true, nil
}

// tallyAdvice ends the errors of a state tally that cannot be read: it
// is derived data, which a run that reads everyone counts afresh.
const tallyAdvice = "; run with --full, which counts the state afresh and writes a new tally, or delete the rule set's row of state_tally" +
	" (docs/operations.md#the-state-tables)"

// rows is the number of state rows g counts.
func (g tallyGroups) rows() int64 {
	var n int64
	for _, v := range g {
		n += v
	}
	return n
}

// ReadEveryone reports whether the run of sum read every customer, so
// that its apply counts every state row afresh for the tally
// (BeginTally's recount).
func ReadEveryone(sum jobs.RunSummary) bool {
	return sum.Detail == nil || sum.Detail.Incremental == nil || sum.Detail.Incremental.NotRead == 0
}

// TallyWrite keeps a rule set's state tally through an apply's writes of
// its state rows: BeginTally before them, Finish after, in the same
// transaction.
type TallyWrite struct {
	d       *Dialect
	t       Tables
	lay     *Layout
	ruleset string
	keys    string
	// g is the tally less the groups of the rows about to be written;
	// nil when Finish counts every row afresh. With delta, g is the
	// written rows' groups less their groups before (BeginTallyDelta),
	// and written says the groups after are in.
	g              tallyGroups
	delta, written bool
}

// BeginTallyDelta is BeginTally for writers that may not read the stored
// tally until the end of their transaction, where they take turns (the
// shards of a sharded run, whose commits a lock serialises): it takes the
// groups of the rows about to be written away from nothing, Written adds
// their groups once written, and Finish, taking turns, adds that
// difference to the tally stored then, or counts every row where there
// is none.
func BeginTallyDelta(ctx context.Context, tx *sql.Tx, d *Dialect, t Tables, lay *Layout, ruleset, keys string) (*TallyWrite, error) {
	w := &TallyWrite{d: d, t: t, lay: lay, ruleset: ruleset, keys: keys, g: tallyGroups{}, delta: true}
	if err := countTally(ctx, tx, tallyQuery(d, t, lay, keys), lay.Segments(), ruleset, -1, w.g); err != nil {
		return nil, err
	}
	return w, nil
}

// Written adds the groups of the written rows to a delta tally
// (BeginTallyDelta), before its writer's turn; Finish does it otherwise.
func (w *TallyWrite) Written(ctx context.Context, tx *sql.Tx) error {
	if !w.delta || w.written {
		return nil
	}
	w.written = true
	return countTally(ctx, tx, tallyQuery(w.d, w.t, w.lay, w.keys), w.lay.Segments(), w.ruleset, 1, w.g)
}

// finishDelta is the tally a delta write stores: the stored one plus the
// difference, or every row counted where there is none or the sum is
// negative somewhere (the state was edited by hand).
func (w *TallyWrite) finishDelta(ctx context.Context, tx *sql.Tx) (tallyGroups, error) {
	if err := w.Written(ctx, tx); err != nil {
		return nil, err
	}
	stored, ok, err := loadTally(ctx, tx, w.t, w.ruleset)
	if err != nil {
		return nil, err
	}
	if ok {
		for k, n := range w.g {
			if stored[k] += n; stored[k] == 0 {
				delete(stored, k)
			}
		}
		if !slices.ContainsFunc(slices.Collect(maps.Values(stored)), func(n int64) bool { return n < 0 }) {
			return stored, nil
		}
	}
	fresh := tallyGroups{}
	return fresh, countTally(ctx, tx, tallyQuery(w.d, w.t, w.lay, ""), w.lay.Segments(), w.ruleset, 1, fresh)
}

// recountShare is one over the share of the state rows an apply must
// write for its tally to count every row afresh rather than take away
// and add back the groups of the rows it writes. Taking away and adding
// back each look up the written rows: 0.40-0.55 s each for 83,000 of a
// million rows on PostgreSQL, where counting every row takes 0.40-0.50 s
// once, so the two meet at about 4% of the rows.
const recountShare = 25

// BeginTally starts keeping the tally of the rule set's state rows in tx
// through writes of the rows of the customers keys selects (a subquery:
// the staged customers), staged of them. It takes their rows' groups
// away from the stored tally, unless Finish is to count every row
// afresh: where there is no tally, where the apply writes more than
// recountShare of the rows, or where recount is set (a run that read every customer, so that apply
// --full mends a tally a hand edit of the state made wrong).
func BeginTally(ctx context.Context, tx *sql.Tx, d *Dialect, t Tables, lay *Layout, ruleset, keys string, staged int, recount bool) (*TallyWrite, error) {
	w := &TallyWrite{d: d, t: t, lay: lay, ruleset: ruleset, keys: keys}
	if recount {
		return w, nil
	}
	g, ok, err := loadTally(ctx, tx, t, ruleset)
	if err != nil || !ok || int64(staged)*recountShare > g.rows() {
		return w, err
	}
	if err := countTally(ctx, tx, tallyQuery(d, t, lay, keys), lay.Segments(), ruleset, -1, g); err != nil {
		return nil, err
	}
	for _, n := range g {
		if n < 0 {
			return w, nil // the tally is wrong (the state was edited by hand): Finish counts afresh
		}
	}
	w.g = g
	return w, nil
}

// Finish adds the groups of the written rows back, or counts every row,
// and stores the tally as of run.
func (w *TallyWrite) Finish(ctx context.Context, tx *sql.Tx, run int64) error {
	g, keys := w.g, w.keys
	switch {
	case w.delta:
		var err error
		if g, err = w.finishDelta(ctx, tx); err != nil {
			return err
		}
	case g == nil:
		g, keys = tallyGroups{}, ""
		fallthrough
	default:
		if err := countTally(ctx, tx, tallyQuery(w.d, w.t, w.lay, keys), w.lay.Segments(), w.ruleset, 1, g); err != nil {
			return err
		}
	}
	groups := make([]tallyGroup, 0, len(g))
	for _, k := range slices.Sorted(maps.Keys(g)) {
		segs, digest := splitTallyKey(k)
		if segs == nil {
			segs = []string{}
		}
		groups = append(groups, tallyGroup{Segments: segs, Digest: digest, Rows: g[k]})
	}
	text, err := json.Marshal(groups)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO "+w.t.Tally+" (ruleset, groups, run_id) VALUES ($1, $2, $3)"+
		" ON CONFLICT (ruleset) DO UPDATE SET groups = EXCLUDED.groups, run_id = EXCLUDED.run_id", w.ruleset, string(text), run)
	return err
}

// CheckTally compares the rule set's stored state tally with a count of
// its state rows in q, and says where they differ; it is an error too
// when there is no tally.
func CheckTally(ctx context.Context, q Queryer, d *Dialect, t Tables, ruleset string) error {
	stored, ok, err := loadTally(ctx, q, t, ruleset)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s has no state tally", ruleset)
	}
	lay, err := ReadLayout(ctx, q, t, ruleset)
	if err != nil {
		return err
	}
	fresh := tallyGroups{}
	if err := countTally(ctx, q, tallyQuery(d, t, lay, ""), lay.Segments(), ruleset, 1, fresh); err != nil {
		return err
	}
	keys := maps.Clone(stored)
	maps.Copy(keys, fresh)
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if stored[k] != fresh[k] {
			segs, digest := splitTallyKey(k)
			diffs = append(diffs, fmt.Sprintf("segments %q digest %v: tally %d, rows %d", segs, digest, stored[k], fresh[k]))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("the state tally of %s differs from its rows: %s", ruleset, strings.Join(diffs, "; "))
	}
	return nil
}
