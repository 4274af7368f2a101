package kernel

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// SnapshotQuery selects every customer's key, facts, previous segments
// and, for actions with a cooldown, when each was last queued: facts
// joined to state in one query, for a source on the state database.
func SnapshotQuery(d *Dialect, t Tables, rs *rules.RuleSet, src string) string {
	key := d.KeyText("src." + QuoteIdent(rs.Key))
	sel := []string{key}
	for _, f := range rs.Facts.Fields {
		sel = append(sel, d.FactExpr("src."+QuoteIdent(f.Name), f.Type))
	}
	var joins []string
	for i, seg := range rs.Segmentations {
		a := fmt.Sprintf("a%d", i)
		sel = append(sel, a+".segment", a+".since", a+".pending_since")
		joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.ruleset = %s AND %s.segmentation = %s AND %s.customer_key = %s",
			t.Assignments, a, a, QuoteLiteral(rs.Name), a, QuoteLiteral(seg.Name), a, key))
	}
	for i, act := range rs.Actions {
		if act.Cooldown == 0 {
			continue
		}
		l := fmt.Sprintf("l%d", i)
		sel = append(sel, l+".queued_at")
		joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.ruleset = %s AND %s.action = %s AND %s.customer_key = %s",
			t.ActionLast, l, l, QuoteLiteral(rs.Name), l, QuoteLiteral(act.Name), l, key))
	}
	return fmt.Sprintf("SELECT %s\nFROM (%s) AS src\n%s", strings.Join(sel, ", "), src, strings.Join(joins, "\n"))
}

// Joined is the one-query snapshot of a source on the state database. It
// implements jobs.Snapshot.
type Joined struct {
	src     *QuerySource
	t       Tables
	rs      *rules.RuleSet
	tx      *sql.Tx
	sql     string
	initial bool
}

// OpenJoined opens a consistent read of src's facts joined to the state
// in t, on src's database.
func OpenJoined(ctx context.Context, src *QuerySource, t Tables, rs *rules.RuleSet) (*Joined, error) {
	q, err := src.SQL()
	if err != nil {
		return nil, src.wrap(rs, err)
	}
	tx, err := src.d.BeginRead(ctx, src.db)
	if err != nil {
		return nil, src.secrets.Err(err)
	}
	initial, err := isInitial(ctx, tx, t, rs)
	if err != nil {
		tx.Rollback() //nolint:errcheck
		return nil, src.secrets.Err(err)
	}
	return &Joined{src: src, t: t, rs: rs, tx: tx, sql: q, initial: initial}, nil
}

func isInitial(ctx context.Context, q Queryer, t Tables, rs *rules.RuleSet) (bool, error) {
	var any bool
	err := q.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+t.Assignments+" WHERE ruleset = $1)", rs.Name).Scan(&any)
	if err != nil {
		return false, fmt.Errorf("read the state of %s: %w", rs.Name, err)
	}
	return !any, nil
}

// Initial reports whether the rule set has no state yet.
func (j *Joined) Initial() bool { return j.initial }

// Close ends the read transaction.
func (j *Joined) Close() error { return j.tx.Rollback() }

// Count counts the source's rows.
func (j *Joined) Count(ctx context.Context) (int64, error) {
	return count(ctx, j.tx, j.sql, j.src.secrets)
}

// Stream reads every customer with its state.
func (j *Joined) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	rows, err := j.tx.QueryContext(ctx, SnapshotQuery(j.src.d, j.t, j.rs, j.sql))
	if err != nil {
		return fmt.Errorf("read facts of %s: %w", j.rs.Name, j.src.secrets.Err(err))
	}
	defer rows.Close()
	return NewRowScanner(j.rs, j.src.d.Fact, j.src.d.Time).BatchesContext(ctx, rows, batchSize, fn, func(err error) error {
		return fmt.Errorf("read facts of %s: %w", j.rs.Name, j.src.secrets.Err(err))
	})
}

// Join is the jobs.Joiner of a SQL state store: when src reads owner's
// own database, it checks the schema (check) and opens src's facts joined
// to the state in t, in one query; otherwise it returns ok false.
func Join(ctx context.Context, owner any, src jobs.FactsSource, t Tables, rs *rules.RuleSet, check func(context.Context) error) (jobs.Snapshot, bool, error) {
	qs, ok := src.(*QuerySource)
	if !ok || qs.Owner() != owner {
		return nil, false, nil
	}
	if err := check(ctx); err != nil {
		return nil, true, err
	}
	snap, err := OpenJoined(ctx, qs, t, rs)
	if err != nil {
		return nil, true, err
	}
	return snap, true, nil
}
