package kernel

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tierflow/tierflow/jobs"
)

// EffectsSQL is jobs.EffectsSource on a SQL store: the decisions of the
// actions table (migration 0006 keeps each one's segments) and the moves
// of the history table, each streamed by one query in customer key byte
// order, so that Go's merge of the two agrees with the database's sort
// whatever the database's collation. It is jobs.EffectCounter too
// (effects_counts.go): one statement, the same on both stores, that
// counts the observations where the rows are; the PostgreSQL store
// offers it, the SQLite store merges (jobs/sqlite/effects.go says why).
type EffectsSQL struct {
	// DB runs the queries; the two streams of one report run at once, on
	// two connections.
	DB      Queryer
	Dialect *Dialect
	Tables  Tables
	Secrets Secrets
	// Only, when set, is an SQL condition on a decision's customer_key
	// that EffectCounts adds to the decisions it counts ($1 is the rule
	// set, $6 the actions): a store that keeps most of a report's counts
	// elsewhere counts the rest.
	Only string
}

var _ jobs.EffectsSource = (*EffectsSQL)(nil)

// decisionsSQL selects the decisions of rule set $1 created in [$2, $3].
// Suppressed and cancelled actions decided nothing (nobody was treated
// and nobody held out), and segment syncs are no follow-ups.
const decisionsSQL = `SELECT id, action, customer_key, status, created_at, segments, coalesce(outcome, '')
	FROM %s
	WHERE ` + decidedWhere + `
	ORDER BY %s, created_at, id`

// decidedWhere selects the decisions of rule set $1 created in [$2, $3]
// of the actions %s names (true for all): every status but suppressed
// and cancelled (nobody was treated, and nobody held out), and no
// segment syncs, which are no follow-ups.
const decidedWhere = `ruleset = $1 AND created_at >= $2 AND created_at <= $3 AND %s
	    AND status NOT IN ('` + jobs.ActionSuppressed + `', '` + jobs.ActionCancelled + `') AND action NOT LIKE 'sync.%%'`

// actionsCond is the condition on the action column for q's actions, and
// its argument ($4), or "true" and no argument.
func (e *EffectsSQL) actionsCond(q jobs.EffectsQuery) (string, []any) {
	if q.Actions == nil {
		return "true", nil
	}
	cond, arg := e.Dialect.InKeys("action", 4, q.Actions)
	return cond, []any{arg}
}

// Decisions implements jobs.EffectsSource. The Segments maps it passes
// may be shared between decisions with the same segments: they must not
// be changed.
func (e *EffectsSQL) Decisions(ctx context.Context, eq jobs.EffectsQuery, fn func(*jobs.ActionDecision) error) error {
	ruleset := eq.RuleSet
	cond, extra := e.actionsCond(eq)
	q := fmt.Sprintf(decisionsSQL, e.Tables.Actions, cond, e.Dialect.ByteOrder("customer_key"))
	args := append([]any{ruleset, e.Dialect.TimeArg(eq.From), e.Dialect.TimeArg(eq.Until)}, extra...)
	rows, err := e.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read the decisions of %s: %w", ruleset, e.Secrets.Err(err))
	}
	defer rows.Close()
	var d jobs.ActionDecision
	var created any
	var segments []byte
	cache := segmentsCache{}
	for rows.Next() {
		if err := rows.Scan(&d.ID, &d.Action, &d.Customer, &d.Status, &created, &segments, &d.Outcome); err != nil {
			return fmt.Errorf("read the decisions of %s: %w", ruleset, e.Secrets.Err(err))
		}
		if d.At, err = e.Dialect.Time(created); err != nil {
			return fmt.Errorf("action %d: %w", d.ID, err)
		}
		if d.Segments, err = cache.decode(segments); err != nil {
			return fmt.Errorf("action %d: %w", d.ID, err)
		}
		if err := fn(&d); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the decisions of %s: %w", ruleset, e.Secrets.Err(err))
	}
	return nil
}

// movesSQL selects the moves of rule set $1 as of $2 or later of the
// customers with a decision decidedWhere selects.
const movesSQL = `SELECT customer_key, segmentation, coalesce(from_segment, ''), to_segment, as_of
	FROM %s
	WHERE ruleset = $1 AND as_of >= $2
	    AND customer_key IN (SELECT customer_key FROM %s WHERE ` + decidedWhere + `)
	ORDER BY %s, as_of, id`

// Moves implements jobs.EffectsSource.
func (e *EffectsSQL) Moves(ctx context.Context, eq jobs.EffectsQuery, fn func(*jobs.HistoryMove) error) error {
	ruleset := eq.RuleSet
	cond, extra := e.actionsCond(eq)
	q := fmt.Sprintf(movesSQL, e.Tables.History, e.Tables.Actions, cond, e.Dialect.ByteOrder("customer_key"))
	args := append([]any{ruleset, e.Dialect.TimeArg(eq.From), e.Dialect.TimeArg(eq.Until)}, extra...)
	rows, err := e.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read the history of %s: %w", ruleset, e.Secrets.Err(err))
	}
	defer rows.Close()
	var m jobs.HistoryMove
	var at any
	for rows.Next() {
		if err := rows.Scan(&m.Customer, &m.Segmentation, &m.From, &m.To, &at); err != nil {
			return fmt.Errorf("read the history of %s: %w", ruleset, e.Secrets.Err(err))
		}
		if m.At, err = e.Dialect.Time(at); err != nil {
			return fmt.Errorf("history of customer %s: %w", m.Customer, err)
		}
		if err := fn(&m); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the history of %s: %w", ruleset, e.Secrets.Err(err))
	}
	return nil
}

// maxSegmentsCache bounds segmentsCache: the combinations of segments a
// rule set's customers are in are few, but a bound keeps memory flat
// whatever they are.
const maxSegmentsCache = 4096

// segmentsCache decodes the segments column once per distinct value.
type segmentsCache map[string]map[string]string

// decode reads a segments value: a JSON object of segment per
// segmentation, or NULL (an action queued before migration 0006), which
// is an empty map.
func (c segmentsCache) decode(b []byte) (map[string]string, error) {
	if m, ok := c[string(b)]; ok {
		return m, nil
	}
	m := map[string]string{}
	if b != nil {
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("segments %q: %w", b, err)
		}
	}
	if len(c) < maxSegmentsCache {
		c[string(b)] = m
	}
	return m, nil
}
