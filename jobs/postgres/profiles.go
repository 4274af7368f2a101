package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

var _ jobs.Maintainer = (*Store)(nil)

// profileChunk is how much of the decisions' horizon days one
// transaction of Maintain profiles: a store upgraded with years of
// queue catches up in steps that each commit, and a nightly apply adds
// one day.
const profileChunk = 31 * 24 * time.Hour

// Maintain brings the effect profiles (migration 0009) of rs's actions
// with a holdout up to the latest succeeded apply. It implements
// jobs.Maintainer. Each step runs in a transaction of its own, under a
// lock on the action's mark, and leaves the profiles complete up to a
// day: a Maintain stopped half-way goes on from there the next time.
func (s *Store) Maintain(ctx context.Context, rs *rules.RuleSet) error {
	if err := s.checkSchema(ctx); err != nil {
		return err
	}
	for _, a := range profiledActions(rs) {
		if err := s.maintainAction(ctx, rs.Name, a); err != nil {
			return fmt.Errorf("effect profiles of %s in %s: %w", a, rs.Name, s.redact(err))
		}
	}
	return nil
}

// profiledActions names rs's actions with a holdout: those an effects
// report compares.
func profiledActions(rs *rules.RuleSet) []string {
	var names []string
	for i := range rs.Actions {
		if rs.Actions[i].Holdout.BasisPoints > 0 {
			names = append(names, rs.Actions[i].Name)
		}
	}
	return names
}

// profileMark is a row of effect_profile_marks.
type profileMark struct {
	horizons []int64
	through  time.Time // zero: nothing profiled yet
	lastRun  int64
}

func (s *Store) maintainAction(ctx context.Context, ruleset, action string) error {
	for first := true; ; first = false {
		done, err := s.profileStep(ctx, ruleset, action, first)
		if err != nil || done {
			return err
		}
	}
}

// profileStep runs one transaction of Maintain: on the first, it also
// drops the rows a run back in time or a change of status made stale.
// It reports whether the profiles have reached the latest apply.
func (s *Store) profileStep(ctx context.Context, ruleset, action string, first bool) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	// The planner prices each decision's three lookups as if a night
	// had hundreds of thousands of rows, and would spend a second
	// compiling the statement (JIT) to save milliseconds.
	if _, err := tx.ExecContext(ctx, `SET LOCAL jit = off`); err != nil {
		return false, err
	}
	m, err := s.lockMark(ctx, tx, ruleset, action)
	if err != nil {
		return false, err
	}
	var latest sql.NullTime
	var lastRun sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(as_of), max(id) FROM `+s.table("runs")+`
		WHERE ruleset = $1 AND status = 'succeeded'`, ruleset).Scan(&latest, &lastRun); err != nil {
		return false, err
	}
	if !latest.Valid {
		return true, nil
	}
	var stale []string
	if first {
		if stale, err = s.dropStale(ctx, tx, ruleset, action, &m); err != nil {
			return false, err
		}
	}
	from, until := m.through, latest.Time.UTC()
	if from.IsZero() {
		var earliest sql.NullTime
		if err := tx.QueryRowContext(ctx, `SELECT min(created_at) FROM `+s.table("actions")+` WHERE ruleset = $1 AND action = $2`,
			ruleset, action).Scan(&earliest); err != nil {
			return false, err
		}
		if !earliest.Valid { // nothing decided yet: profiled through the latest apply
			if err := s.saveMark(ctx, tx, ruleset, action, until, lastRun.Int64); err != nil {
				return false, err
			}
			return true, tx.Commit()
		}
		from = earliest.Time.UTC().Add(-time.Microsecond)
	}
	if until.Before(from) { // runs were deleted: keep rows only up to the latest
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+s.table("effect_profiles")+`
			WHERE ruleset = $1 AND action = $2 AND decided_at + make_interval(hours => 24 * horizon) > $3`, ruleset, action, until); err != nil {
			return false, err
		}
		from = until
	}
	if until.Sub(from) > profileChunk {
		until = from.Add(profileChunk)
	}
	if until.After(from) || len(stale) > 0 {
		if err := s.insertProfiles(ctx, tx, ruleset, action, from, until, stale); err != nil {
			return false, err
		}
	}
	if err := s.saveMark(ctx, tx, ruleset, action, until, lastRun.Int64); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	return !until.Before(latest.Time.UTC()), nil
}

// lockMark reads the action's mark for update, creating it when there
// is none or when it was made for other horizons (its rows are dropped:
// they are counted again from the start).
func (s *Store) lockMark(ctx context.Context, tx *sql.Tx, ruleset, action string) (profileMark, error) {
	want := profileHorizons()
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+s.table("effect_profile_marks")+` (ruleset, action, horizons, through, last_run)
		VALUES ($1, $2, $3, '-infinity', 0) ON CONFLICT DO NOTHING`, ruleset, action, pq.Array(want)); err != nil {
		return profileMark{}, err
	}
	var m profileMark
	var through sql.NullTime
	err := tx.QueryRowContext(ctx, `SELECT horizons, CASE WHEN through = '-infinity' THEN NULL ELSE through END, last_run
		FROM `+s.table("effect_profile_marks")+` WHERE ruleset = $1 AND action = $2 FOR UPDATE`, ruleset, action).
		Scan(pq.Array(&m.horizons), &through, &m.lastRun)
	if err != nil {
		return m, err
	}
	if through.Valid {
		m.through = through.Time.UTC()
	}
	if !slices.Equal(m.horizons, want) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+s.table("effect_profiles")+` WHERE ruleset = $1 AND action = $2`, ruleset, action); err != nil {
			return m, err
		}
		m = profileMark{horizons: want}
	}
	return m, nil
}

// profileHorizons are the horizons profiles are kept for: the effects
// report's defaults.
func profileHorizons() []int64 {
	hs := make([]int64, len(jobs.DefaultHorizons))
	for i, h := range jobs.DefaultHorizons {
		hs[i] = int64(h)
	}
	return hs
}

func (s *Store) saveMark(ctx context.Context, tx *sql.Tx, ruleset, action string, through time.Time, lastRun int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE `+s.table("effect_profile_marks")+` SET horizons = $3, through = $4, last_run = $5
		WHERE ruleset = $1 AND action = $2`, ruleset, action, pq.Array(profileHorizons()), through, lastRun)
	return err
}

// dropStale deletes the rows that changed since m was saved, and moves
// m.through back before them:
//   - an apply since m.lastRun with an as-of not after m.through (a run
//     back in time) added decisions and moves that rows of up to the
//     longest horizon before it would have counted: rows whose day is
//     after that are dropped;
//   - customers in effect_profile_stale had an action's status change:
//     their rows are dropped and returned, to be counted again up to
//     m.through.
func (s *Store) dropStale(ctx context.Context, tx *sql.Tx, ruleset, action string, m *profileMark) ([]string, error) {
	if !m.through.IsZero() {
		var back sql.NullTime
		if err := tx.QueryRowContext(ctx, `SELECT min(as_of) FROM `+s.table("runs")+`
			WHERE ruleset = $1 AND status = 'succeeded' AND id > $2`, ruleset, m.lastRun).Scan(&back); err != nil {
			return nil, err
		}
		if back.Valid && !back.Time.After(m.through) {
			longest := slices.Max(m.horizons)
			m.through = back.Time.UTC().Add(-time.Duration(longest)*24*time.Hour - time.Microsecond)
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+s.table("effect_profiles")+`
				WHERE ruleset = $1 AND action = $2 AND decided_at + make_interval(hours => 24 * horizon) > $3`,
				ruleset, action, m.through); err != nil {
				return nil, err
			}
		}
	}
	rows, err := tx.QueryContext(ctx, `DELETE FROM `+s.table("effect_profile_stale")+` WHERE ruleset = $1 AND action = $2 RETURNING customer_key`,
		ruleset, action)
	if err != nil {
		return nil, err
	}
	var stale []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return nil, err
		}
		stale = append(stale, k)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	if len(stale) == 0 || m.through.IsZero() {
		return nil, nil
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM `+s.table("effect_profiles")+` WHERE ruleset = $1 AND action = $2 AND customer_key = ANY($3)`,
		ruleset, action, pq.Array(stale))
	return stale, err
}

// insertProfiles adds the rows of the action's decisions whose horizon
// day is in (from, until], and of the stale customers' decisions whose
// day is not after from.
func (s *Store) insertProfiles(ctx context.Context, tx *sql.Tx, ruleset, action string, from, until time.Time, stale []string) error {
	_, err := tx.ExecContext(ctx, profileInsertSQL(s.table, profileHorizons()), ruleset, action, from, until, pq.Array(stale))
	return err
}

// profileInsertSQL is the statement insertProfiles runs: one branch per
// horizon, so that each reads its decisions by a range of actions_created
// ($3 and $4 moved back by the horizon), with the customers of $5 added.
// Per decision: the customer's previous counted decision, the treated
// decisions through the horizon's day, and the last move per
// segmentation after day 0 and by that day, each looked up by customer
// (actions_customer, history_customer).
func profileInsertSQL(table func(string) string, horizons []int64) string {
	actions, history := table("actions"), table("history")
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (action_id, horizon, ruleset, action, customer_key, decided_at, prior_at, held_out, segments, spent, moved_to)\n",
		table("effect_profiles"))
	for i, h := range horizons {
		if i > 0 {
			b.WriteString("UNION ALL\n")
		}
		span := "interval '" + strconv.FormatInt(24*h, 10) + " hours'"
		fmt.Fprintf(&b, `SELECT d.id, %[1]d, d.ruleset, d.action, d.customer_key, d.created_at,
    (SELECT p.created_at FROM %[2]s p WHERE p.ruleset = d.ruleset AND p.customer_key = d.customer_key AND p.action = d.action
        AND p.status NOT IN ('suppressed', 'cancelled') AND (p.created_at < d.created_at OR p.created_at = d.created_at AND p.id < d.id)
        ORDER BY p.created_at DESC, p.id DESC LIMIT 1),
    d.status = 'held_out', d.segments::text,
    CASE WHEN d.status = 'held_out' THEN 0 ELSE (SELECT count(*) FROM %[2]s t WHERE t.ruleset = d.ruleset AND t.customer_key = d.customer_key
        AND t.action = d.action AND t.status NOT IN ('suppressed', 'cancelled', 'held_out')
        AND t.created_at >= d.created_at AND t.created_at <= d.created_at + %[4]s) END,
    (SELECT jsonb_object_agg(z.segmentation, z.to_segment)::text FROM (
        SELECT DISTINCT ON (m.segmentation) m.segmentation, coalesce(m.to_segment, '') AS to_segment FROM %[3]s m
        WHERE m.ruleset = d.ruleset AND m.customer_key = d.customer_key AND m.as_of > d.created_at AND m.as_of <= d.created_at + %[4]s
        ORDER BY m.segmentation, m.as_of DESC, m.id DESC) z)
FROM %[2]s d
WHERE d.ruleset = $1 AND d.action = $2 AND d.status NOT IN ('suppressed', 'cancelled')
    AND (d.created_at > $3::timestamptz - %[4]s AND d.created_at <= $4::timestamptz - %[4]s
        OR d.customer_key = ANY($5) AND d.created_at <= $3::timestamptz - %[4]s)
`, h, actions, history, span)
	}
	return b.String()
}
