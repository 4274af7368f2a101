package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// Column is one column of a facts source, with the fact type it maps to.
type Column struct {
	Name     string
	DBType   string
	Type     rules.Type
	Nullable bool
	// Mappable is false for column types rules cannot read.
	Mappable bool
}

// columnType maps PostgreSQL type names (as database/sql reports them)
// to fact types.
func columnType(dbType string) (rules.Type, bool) {
	switch strings.ToUpper(dbType) {
	case "NUMERIC", "FLOAT4", "FLOAT8", "MONEY":
		return rules.TypeNumber, true
	case "INT2", "INT4", "INT8":
		return rules.TypeInteger, true
	case "TEXT", "VARCHAR", "BPCHAR", "CHAR", "NAME", "UUID", "CITEXT":
		return rules.TypeString, true
	case "BOOL":
		return rules.TypeBool, true
	case "DATE", "TIMESTAMP", "TIMESTAMPTZ":
		return rules.TypeTime, true
	}
	return 0, false
}

// SourceColumns describes the columns the rule set's facts source returns,
// without reading any rows.
func (s *Store) SourceColumns(ctx context.Context, rs *rules.RuleSet) ([]Column, error) {
	src, err := s.source(rs)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT * FROM ("+src+") AS src LIMIT 0")
	if err != nil {
		return nil, fmt.Errorf("facts source of %s: %w", rs.Name, s.redact(err))
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, s.redact(err)
	}
	out := make([]Column, len(types))
	for i, t := range types {
		ft, ok := columnType(t.DatabaseTypeName())
		// lib/pq cannot tell nullability; every column may be null.
		out[i] = Column{Name: t.Name(), DBType: t.DatabaseTypeName(), Type: ft, Nullable: true, Mappable: ok}
	}
	return out, nil
}

// SourceSchema derives a facts schema from the source's columns (all but
// the key), for rule files that declare no facts.
func (s *Store) SourceSchema(ctx context.Context, rs *rules.RuleSet) (*rules.Schema, error) {
	cols, err := s.SourceColumns(ctx, rs)
	if err != nil {
		return nil, err
	}
	return SchemaFromColumns(rs.Key, cols)
}

// SchemaFromColumns makes a facts schema of every readable column but the
// key; the SQLite store shares it.
func SchemaFromColumns(key string, cols []Column) (*rules.Schema, error) {
	var fields []rules.Field
	for _, c := range cols {
		if c.Name == key || !c.Mappable {
			continue
		}
		fields = append(fields, rules.Field{Name: c.Name, Type: c.Type, Nullable: c.Nullable})
	}
	return rules.NewSchema(fields)
}

// CheckSource verifies that the source returns the key and every fact
// the rules read, with compatible types. It returns one message per
// problem, naming the column and how to fix it.
func (s *Store) CheckSource(ctx context.Context, rs *rules.RuleSet) ([]string, error) {
	cols, err := s.SourceColumns(ctx, rs)
	if err != nil {
		return nil, err
	}
	byName := map[string]Column{}
	for _, c := range cols {
		byName[c.Name] = c
	}
	var problems []string
	if _, ok := byName[rs.Key]; !ok {
		problems = append(problems, fmt.Sprintf("the source has no key column %q: select it, or set key: in the rule file", rs.Key))
	}
	for _, f := range rs.Facts.Fields {
		c, ok := byName[f.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("fact %q (%s): the source has no column %q; add it to the query (e.g. `... AS %s`)", f.Name, f.Type, f.Name, f.Name))
		case !c.Mappable:
			problems = append(problems, fmt.Sprintf("fact %q (%s): column type %s cannot be read by rules; cast it in the query", f.Name, f.Type, c.DBType))
		case !compatible(f.Type, c.Type):
			problems = append(problems, fmt.Sprintf("fact %q is declared %s, but the source column is %s (%s); change the declaration or cast the column", f.Name, f.Type, c.Type, c.DBType))
		}
	}
	return problems, nil
}

func compatible(want, got rules.Type) bool {
	return want == got || (want == rules.TypeNumber && got == rules.TypeInteger)
}

// castFor is the SQL cast that makes a source column arrive in the Go
// type the engine expects.
func castFor(t rules.Type) string {
	switch t {
	case rules.TypeNumber:
		return "float8"
	case rules.TypeInteger:
		return "int8"
	case rules.TypeBool:
		return "bool"
	case rules.TypeTime:
		return "timestamptz"
	}
	return "text"
}

// snapshotQuery selects every customer's key, facts, previous segments
// and, for actions with a cooldown, when each was last queued.
func (s *Store) snapshotQuery(rs *rules.RuleSet, where string) (string, error) {
	src, err := s.source(rs)
	if err != nil {
		return "", err
	}
	key := "src." + quoteIdent(rs.Key) + "::text"
	var sel, joins []string
	sel = append(sel, key)
	for _, f := range rs.Facts.Fields {
		sel = append(sel, fmt.Sprintf("src.%s::%s", quoteIdent(f.Name), castFor(f.Type)))
	}
	for i, seg := range rs.Segmentations {
		a := fmt.Sprintf("a%d", i)
		sel = append(sel, a+".segment", a+".since", a+".pending_since")
		joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.ruleset = %s AND %s.segmentation = %s AND %s.customer_key = %s",
			s.table("assignments"), a, a, quoteLiteral(rs.Name), a, quoteLiteral(seg.Name), a, key))
	}
	for i, act := range rs.Actions {
		if act.Cooldown == 0 {
			continue
		}
		l := fmt.Sprintf("l%d", i)
		sel = append(sel, l+".queued_at")
		joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.ruleset = %s AND %s.action = %s AND %s.customer_key = %s",
			s.table("action_last"), l, l, quoteLiteral(rs.Name), l, quoteLiteral(act.Name), l, key))
	}
	q := fmt.Sprintf("SELECT %s\nFROM (%s) AS src\n%s", strings.Join(sel, ", "), src, strings.Join(joins, "\n"))
	if where != "" {
		q += "\nWHERE " + key + " = " + where
	}
	return q, nil
}

// utcSQL makes casts of date and timestamp facts to timestamptz use UTC
// for the rest of the transaction.
const utcSQL = `SET LOCAL TIME ZONE 'UTC'`

// snapshot is a read-only, repeatable-read transaction on one connection.
type snapshot struct {
	s       *Store
	rs      *rules.RuleSet
	conn    *sql.Conn
	tx      *sql.Tx
	initial bool
}

// Snapshot opens a consistent, read-only view of facts and state. The
// transaction is READ ONLY, so a plan cannot write even through a bug.
func (s *Store) Snapshot(ctx context.Context, rs *rules.RuleSet) (jobs.Snapshot, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, s.redact(err)
	}
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		conn.Close()
		return nil, s.redact(err)
	}
	snap := &snapshot{s: s, rs: rs, conn: conn, tx: tx}
	// Facts are cast to timestamptz; a date or timestamp column is read as
	// UTC midnight (or UTC time), whatever the role's default time zone.
	if _, err := tx.ExecContext(ctx, utcSQL); err != nil {
		snap.Close()
		return nil, s.redact(err)
	}
	var any bool
	err = tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+s.table("assignments")+" WHERE ruleset = $1)", rs.Name).Scan(&any)
	if err != nil {
		snap.Close()
		return nil, s.redact(err)
	}
	snap.initial = !any
	return snap, nil
}

func (sn *snapshot) Initial() bool { return sn.initial }

func (sn *snapshot) Close() error {
	_ = sn.tx.Rollback()
	return sn.conn.Close()
}

func (sn *snapshot) Count(ctx context.Context) (int64, error) {
	src, err := sn.s.source(sn.rs)
	if err != nil {
		return 0, err
	}
	var n int64
	err = sn.tx.QueryRowContext(ctx, "SELECT count(*) FROM ("+src+") AS src").Scan(&n)
	return n, sn.s.redact(err)
}

func (sn *snapshot) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	q, err := sn.s.snapshotQuery(sn.rs, "")
	if err != nil {
		return err
	}
	rows, err := sn.tx.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("read facts of %s: %w", sn.rs.Name, sn.s.redact(err))
	}
	defer rows.Close()
	return newScanner(sn.rs).Batches(rows, batchSize, fn, func(err error) error {
		return fmt.Errorf("read facts of %s: %w", sn.rs.Name, sn.s.redact(err))
	})
}

// Customer reads one customer's facts and state, for explain.
func (s *Store) Customer(ctx context.Context, rs *rules.RuleSet, key string) (*engine.Customer, error) {
	q, err := s.snapshotQuery(rs, "$1")
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, s.redact(err)
	}
	defer tx.Rollback() //nolint:errcheck
	if _, err := tx.ExecContext(ctx, utcSQL); err != nil {
		return nil, s.redact(err)
	}
	rows, err := tx.QueryContext(ctx, q, key)
	if err != nil {
		return nil, s.redact(err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, s.redact(err)
		}
		return nil, fmt.Errorf("no customer %q in the facts source of %s", key, rs.Name)
	}
	c, err := newScanner(rs).Scan(rows.Scan)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// newScanner reads snapshot rows as lib/pq returns them: facts through
// Field.Coerce, state times as time.Time or NULL.
func newScanner(rs *rules.RuleSet) *jobs.RowScanner {
	return jobs.NewRowScanner(rs, rules.Field.Coerce, func(v any) (time.Time, error) {
		t, _ := v.(time.Time)
		return utcOrZero(t), nil
	})
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}
