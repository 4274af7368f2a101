package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// snapshotQuery selects every customer's key (as text), facts (as
// stored: SQLite's types are loose, so values are converted in Go by
// rules.Field.Coerce), previous segments and, for actions with a
// cooldown, when each was last queued.
func (s *Store) snapshotQuery(rs *rules.RuleSet, where string) (string, error) {
	src, err := s.source(rs)
	if err != nil {
		return "", err
	}
	key := "CAST(src." + quoteIdent(rs.Key) + " AS TEXT)"
	var sel, joins []string
	sel = append(sel, key)
	for _, f := range rs.Facts.Fields {
		sel = append(sel, "src."+quoteIdent(f.Name))
	}
	for i, seg := range rs.Segmentations {
		a := fmt.Sprintf("a%d", i)
		sel = append(sel, a+".segment", a+".since", a+".pending_since")
		joins = append(joins, fmt.Sprintf("LEFT JOIN main.assignments %s ON %s.ruleset = %s AND %s.segmentation = %s AND %s.customer_key = %s",
			a, a, quoteLiteral(rs.Name), a, quoteLiteral(seg.Name), a, key))
	}
	for i, act := range rs.Actions {
		if act.Cooldown == 0 {
			continue
		}
		l := fmt.Sprintf("l%d", i)
		sel = append(sel, l+".queued_at")
		joins = append(joins, fmt.Sprintf("LEFT JOIN main.action_last %s ON %s.ruleset = %s AND %s.action = %s AND %s.customer_key = %s",
			l, l, quoteLiteral(rs.Name), l, quoteLiteral(act.Name), l, key))
	}
	q := fmt.Sprintf("SELECT %s\nFROM (%s) AS src\n%s", strings.Join(sel, ", "), src, strings.Join(joins, "\n"))
	if where != "" {
		q += "\nWHERE " + key + " = " + where
	}
	return q, nil
}

// snapshot is a read transaction on a connection of the query_only
// pool. In WAL mode it sees the database as of its first read for as
// long as it lasts, while writers go on; and it cannot write, even
// through a bug, because SQLite refuses every write on that connection.
type snapshot struct {
	s       *Store
	rs      *rules.RuleSet
	tx      *sql.Tx
	initial bool
}

// Snapshot opens a consistent, read-only view of facts and state.
func (s *Store) Snapshot(ctx context.Context, rs *rules.RuleSet) (jobs.Snapshot, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	// Read-only: a deferred BEGIN, whose first read fixes the snapshot.
	tx, err := s.ro.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("begin snapshot: %w", err)
	}
	snap := &snapshot{s: s, rs: rs, tx: tx}
	var any bool
	err = tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM main.assignments WHERE ruleset = $1)`, rs.Name).Scan(&any)
	if err != nil {
		snap.Close()
		return nil, fmt.Errorf("begin snapshot: %w", err)
	}
	snap.initial = !any
	return snap, nil
}

func (sn *snapshot) Initial() bool { return sn.initial }

func (sn *snapshot) Close() error {
	_ = sn.tx.Rollback()
	return nil
}

func (sn *snapshot) Count(ctx context.Context) (int64, error) {
	src, err := sn.s.source(sn.rs)
	if err != nil {
		return 0, err
	}
	var n int64
	err = sn.tx.QueryRowContext(ctx, "SELECT count(*) FROM ("+src+") AS src").Scan(&n)
	return n, err
}

func (sn *snapshot) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	q, err := sn.s.snapshotQuery(sn.rs, "")
	if err != nil {
		return err
	}
	rows, err := sn.tx.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("read facts of %s: %w", sn.rs.Name, err)
	}
	defer rows.Close()
	return newScanner(sn.rs).Batches(rows, batchSize, fn, func(err error) error {
		return fmt.Errorf("read facts of %s: %w", sn.rs.Name, err)
	})
}

// Customer reads one customer's facts and state, for explain. The key is
// compared as text, so the facts source is scanned.
func (s *Store) Customer(ctx context.Context, rs *rules.RuleSet, key string) (*engine.Customer, error) {
	q, err := s.snapshotQuery(rs, "$1")
	if err != nil {
		return nil, err
	}
	rows, err := s.ro.QueryContext(ctx, q, key)
	if err != nil {
		return nil, fmt.Errorf("read customer %s of %s: %w", key, rs.Name, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("no customer %q in the facts source of %s", key, rs.Name)
	}
	c, err := newScanner(rs).Scan(rows.Scan)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// newScanner reads snapshot rows as SQLite returns them: facts through
// factValue, state times as stored text.
func newScanner(rs *rules.RuleSet) *jobs.RowScanner {
	return jobs.NewRowScanner(rs, factValue, timeValue)
}

// factValue converts a value as SQLite returns it (int64, float64,
// string, []byte, nil; time.Time for columns declared DATE, DATETIME or
// TIMESTAMP) to the fact's type. SQLite has no booleans: 0 is false and
// any other number true.
func factValue(f rules.Field, v any) (any, error) {
	switch f.Type {
	case rules.TypeBool:
		switch x := v.(type) {
		case int64:
			v = x != 0
		case float64:
			v = x != 0
		}
	case rules.TypeTime:
		// SQLite keeps dates as text; read the usual shapes without
		// time.Parse, which rules.ParseTime calls once per layout.
		if x, ok := v.(string); ok {
			if t, ok := parseDate(x); ok {
				return t, nil
			}
			if t, ok := parseLayout(x); ok {
				return t, nil
			}
		}
	}
	return f.Coerce(v)
}
