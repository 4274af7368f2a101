package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/jobs"
)

// EffectCounts counts the observations of an effects report. It
// implements jobs.EffectCounter. Where the effect profiles (Maintain)
// cover the query, it reads them, and counts only the customers whose
// profiles are stale from actions and history; otherwise it counts
// everything from those. Both read one snapshot.
func (s *Store) EffectCounts(ctx context.Context, q jobs.EffectCountsQuery, fn func(*jobs.EffectCount) error) error {
	if err := s.checkSchema(ctx); err != nil {
		return err
	}
	if len(q.Actions) == 0 || len(q.Horizons) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return fmt.Errorf("count the effects of %s: %w", q.RuleSet, s.redact(err))
	}
	defer tx.Rollback() //nolint:errcheck // read only
	for _, set := range analyticSettings {
		if _, err := tx.ExecContext(ctx, set); err != nil {
			return fmt.Errorf("count the effects of %s: %w", q.RuleSet, s.redact(err))
		}
	}
	e := s.effectsSQL()
	e.DB = tx
	covered, err := s.profilesCover(ctx, tx, q)
	if err != nil {
		return fmt.Errorf("count the effects of %s: %w", q.RuleSet, s.redact(err))
	}
	if !covered {
		return e.EffectCounts(ctx, q, fn)
	}
	c := newProfileCounts(q)
	if err := s.readProfiles(ctx, tx, q, c); err != nil {
		return fmt.Errorf("count the effects of %s: %w", q.RuleSet, s.redact(err))
	}
	var stale bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+s.table("effect_profile_stale")+` WHERE ruleset = $1 AND action = ANY($2))`,
		q.RuleSet, pq.Array(q.Actions)).Scan(&stale); err != nil {
		return fmt.Errorf("count the effects of %s: %w", q.RuleSet, s.redact(err))
	}
	if stale {
		e.Only = "(action, customer_key) IN (SELECT action, customer_key FROM " + s.table("effect_profile_stale") + " WHERE ruleset = $1)"
		if err := e.EffectCounts(ctx, q, c.addStale); err != nil {
			return err
		}
	}
	return c.emit(fn)
}

// profilesCover reports whether the profiles of every action of q are
// complete through q.Latest, for its horizons, with no apply since that
// they have not seen.
func (s *Store) profilesCover(ctx context.Context, tx *sql.Tx, q jobs.EffectCountsQuery) (bool, error) {
	actions := slices.Clone(q.Actions)
	slices.Sort(actions)
	actions = slices.Compact(actions)
	hs := make([]int64, len(q.Horizons))
	for i, h := range q.Horizons {
		hs[i] = int64(h)
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+s.table("effect_profile_marks")+` m
		WHERE m.ruleset = $1 AND m.action = ANY($2) AND m.horizons @> $3 AND m.through >= $4
		AND NOT EXISTS (SELECT 1 FROM `+s.table("runs")+` r WHERE r.ruleset = m.ruleset
		    AND r.status = 'succeeded' AND r.id > m.last_run AND r.as_of <= m.through)`,
		q.RuleSet, pq.Array(actions), pq.Array(hs), q.Latest.UTC()).Scan(&n)
	return n == len(actions), err
}

// profileCountsSQL groups the profiles of the first decisions of a
// period: those from $4 through $5 whose customer's previous decision
// of the action was before $4, at each horizon of $3 whose day is not
// after $6, leaving out the stale customers.
const profileCountsSQL = `SELECT action, held_out, coalesce(segments, ''), horizon, coalesce(moved_to, ''), count(*), sum(spent)
FROM %[1]s p
WHERE ruleset = $1 AND action = ANY($2) AND horizon = ANY($3) AND decided_at >= $4 AND decided_at <= $5
    AND (prior_at IS NULL OR prior_at < $4) AND decided_at + make_interval(hours => 24 * horizon) <= $6
    AND NOT EXISTS (SELECT 1 FROM %[2]s s WHERE s.ruleset = p.ruleset AND s.action = p.action AND s.customer_key = p.customer_key)
GROUP BY 1, 2, 3, 4, 5`

func (s *Store) readProfiles(ctx context.Context, tx *sql.Tx, q jobs.EffectCountsQuery, c *profileCounts) error {
	hs := make([]int64, len(q.Horizons))
	for i, h := range q.Horizons {
		hs[i] = int64(h)
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(profileCountsSQL, s.table("effect_profiles"), s.table("effect_profile_stale")),
		q.RuleSet, pq.Array(q.Actions), pq.Array(hs), q.From.UTC(), q.Until.UTC(), q.Latest.UTC())
	if err != nil {
		return err
	}
	defer rows.Close()
	var g profileGroup
	for rows.Next() {
		if err := rows.Scan(&g.action, &g.heldOut, &g.segments, &g.horizon, &g.movedTo, &g.n, &g.spent); err != nil {
			return err
		}
		if err := c.add(&g); err != nil {
			return err
		}
	}
	return rows.Err()
}

// profileGroup is a row of profileCountsSQL.
type profileGroup struct {
	action            string
	heldOut           bool
	segments, movedTo string
	horizon           int
	n, spent          int64
}

// profileCounts folds profile groups into the EffectCounts they make,
// with those of the stale customers, counted from actions and history,
// added.
type profileCounts struct {
	q     jobs.EffectCountsQuery
	h     map[int]int // horizon → index in q.Horizons
	seg   map[string]bool
	index map[string]int // a count's key → its index in counts
	// counts holds the groups of first decisions, then those of moves,
	// each in the order first seen.
	firsts, moves []*jobs.EffectCount
}

func newProfileCounts(q jobs.EffectCountsQuery) *profileCounts {
	c := &profileCounts{q: q, h: map[int]int{}, seg: map[string]bool{}, index: map[string]int{}}
	for i, h := range q.Horizons {
		c.h[h] = i
	}
	for _, s := range q.Segmentations {
		c.seg[s] = true
	}
	return c
}

// add folds one profile group: its decisions count as first decisions
// at its horizon, and as moves of each segmentation they moved in.
func (c *profileCounts) add(g *profileGroup) error {
	hi, ok := c.h[g.horizon]
	if !ok {
		return nil
	}
	segs := map[string]string{}
	if g.segments != "" {
		if err := json.Unmarshal([]byte(g.segments), &segs); err != nil {
			return fmt.Errorf("the segments of a profile of %s: %w", g.action, err)
		}
	}
	xs := make([]string, len(c.q.Segmentations))
	for i, s := range c.q.Segmentations {
		xs[i] = segs[s]
	}
	f := c.count(g.action, g.heldOut, xs, "", "")
	f.Observed[hi] += g.n
	f.Spent[hi] += g.spent
	if g.movedTo == "" {
		return nil
	}
	moved := map[string]string{}
	if err := json.Unmarshal([]byte(g.movedTo), &moved); err != nil {
		return fmt.Errorf("the moves of a profile of %s: %w", g.action, err)
	}
	for seg, to := range moved {
		if c.seg[seg] {
			c.count(g.action, g.heldOut, xs, seg, to).Observed[hi] += g.n
		}
	}
	return nil
}

// addStale adds a count of the stale customers, from actions and history.
func (c *profileCounts) addStale(e *jobs.EffectCount) error {
	t := c.count(e.Action, e.HeldOut, e.Segments, e.Segmentation, e.To)
	for h := range t.Observed {
		t.Observed[h] += e.Observed[h]
		t.Spent[h] += e.Spent[h]
	}
	return nil
}

// count returns the count of a group, adding it when new.
func (c *profileCounts) count(action string, heldOut bool, xs []string, seg, to string) *jobs.EffectCount {
	key := strings.Join(append([]string{action, fmt.Sprint(heldOut), seg, to}, xs...), "\x00")
	list := &c.firsts
	if seg != "" {
		list = &c.moves
	}
	if i, ok := c.index[key]; ok {
		return (*list)[i]
	}
	n := len(c.q.Horizons)
	e := &jobs.EffectCount{Action: action, HeldOut: heldOut, Segments: slices.Clone(xs), Segmentation: seg, To: to,
		Observed: make([]int64, n), Spent: make([]int64, n)}
	c.index[key] = len(*list)
	*list = append(*list, e)
	return e
}

// emit passes the groups of first decisions, then those of moves, to fn.
func (c *profileCounts) emit(fn func(*jobs.EffectCount) error) error {
	for _, e := range slices.Concat(c.firsts, c.moves) {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
