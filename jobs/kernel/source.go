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

// QuerySource is a facts source on a SQL database: a query, or a table or
// view name, returning one row per customer with the key column and a
// column per fact. It implements jobs.FactsSource for any dialect.
type QuerySource struct {
	db      *sql.DB
	d       *Dialect
	query   string
	secrets Secrets
	owner   any
	label   string
}

// NewQuerySource makes a facts source reading query on db. owner is the
// state store whose database db is (so that it can join facts to state in
// one query), or nil for another database; label names the database in
// messages; secrets are removed from every error.
func NewQuerySource(db *sql.DB, d *Dialect, query string, owner any, label string, secrets Secrets) *QuerySource {
	return &QuerySource{db: db, d: d, query: query, owner: owner, label: label, secrets: secrets}
}

// Owner returns the state store whose database the source reads, or nil.
func (q *QuerySource) Owner() any { return q.owner }

// Table returns the parts of the table name the source was given as
// (schema and table, or the table alone), or false for a query.
func (q *QuerySource) Table() ([]string, bool) {
	t := strings.TrimRight(strings.TrimSpace(q.query), ";")
	if t == "" || strings.ContainsAny(t, " \n\t") {
		return nil, false
	}
	return strings.Split(t, "."), true
}

// SQL returns the source's SELECT statement.
func (q *QuerySource) SQL() (string, error) { return SourceSQL(q.query) }

func (q *QuerySource) wrap(rs *rules.RuleSet, err error) error {
	where := ""
	if q.label != "" {
		where = " (database " + q.label + ")"
	}
	return fmt.Errorf("facts source of %s%s: %w", rs.Name, where, q.secrets.Err(err))
}

// FactsQuery selects each customer's key as text and rs's facts, each as
// the dialect reads a fact of its type from its column in cols (the
// source's columns; nil where the dialect does not read them), in
// ascending byte order of the key's text; where, when set, is a condition
// on the key's text.
func FactsQuery(d *Dialect, rs *rules.RuleSet, cols []Column, src, where string) string {
	key, sel := factSelect(d, rs, cols)
	q := fmt.Sprintf("SELECT %s\nFROM (%s) AS src", strings.Join(sel, ", "), src)
	if where != "" {
		q += "\nWHERE " + key + " = " + where
	}
	return q + "\nORDER BY " + d.ByteOrder(key)
}

// factSelect returns the key's text expression and the select list of
// the key and rs's facts.
func factSelect(d *Dialect, rs *rules.RuleSet, cols []Column) (key string, sel []string) {
	key, facts := factExprs(d, rs, cols)
	return key, append([]string{key}, facts...)
}

// factExprs are the key and fact expressions of factSelect.
func factExprs(d *Dialect, rs *rules.RuleSet, cols []Column) (key string, facts []string) {
	byName := make(map[string]*Column, len(cols))
	for i := range cols {
		byName[cols[i].Name] = &cols[i]
	}
	key = d.KeyText("src." + QuoteIdent(rs.Key))
	facts = make([]string, 0, len(rs.Facts.Fields))
	for _, f := range rs.Facts.Fields {
		facts = append(facts, d.FactExpr("src."+QuoteIdent(f.Name), f, byName[f.Name]))
	}
	return key, facts
}

// OpenFacts opens a read-only transaction for one pass over the facts,
// and reads there the source's column types where the dialect needs them
// to build its query.
func (q *QuerySource) OpenFacts(ctx context.Context, rs *rules.RuleSet) (jobs.FactsReader, error) {
	src, err := q.SQL()
	if err != nil {
		return nil, q.wrap(rs, err)
	}
	tx, err := q.d.BeginRead(ctx, q.db)
	if err != nil {
		return nil, q.wrap(rs, err)
	}
	cols, err := factColumns(ctx, tx, q.d, src)
	if err != nil {
		tx.Rollback() //nolint:errcheck
		return nil, q.wrap(rs, err)
	}
	return &factsReader{q: q, rs: rs, tx: tx, src: src, query: FactsQuery(q.d, rs, cols, src, "")}, nil
}

// factsReader is one pass over a query source's facts. It implements
// jobs.FactsReader and jobs.Ordered.
type factsReader struct {
	q     *QuerySource
	rs    *rules.RuleSet
	tx    *sql.Tx
	src   string
	query string
}

var _ jobs.Ordered = (*factsReader)(nil)

func (r *factsReader) Close() error { return r.tx.Rollback() }

// Ordered reports that customers come in byte order of their key.
func (r *factsReader) Ordered() bool { return true }

func (r *factsReader) Count(ctx context.Context) (int64, error) {
	return count(ctx, r.tx, r.src, r.q.secrets)
}

func (r *factsReader) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	rows, err := r.tx.QueryContext(ctx, r.query)
	if err != nil {
		return r.q.wrap(r.rs, err)
	}
	defer rows.Close()
	return NewFactsScanner(r.rs, r.q.d.Fact).BatchesContext(ctx, rows, batchSize, fn, func(err error) error { return r.q.wrap(r.rs, err) })
}

func count(ctx context.Context, q Queryer, src string, secrets Secrets) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, "SELECT count(*) FROM ("+src+") AS src").Scan(&n)
	return n, secrets.Err(err)
}

// read runs fn in a read transaction on the source's SQL.
func (q *QuerySource) read(ctx context.Context, rs *rules.RuleSet, fn func(tx *sql.Tx, src string) error) error {
	src, err := q.SQL()
	if err != nil {
		return q.wrap(rs, err)
	}
	tx, err := q.d.BeginRead(ctx, q.db)
	if err != nil {
		return q.wrap(rs, err)
	}
	defer tx.Rollback() //nolint:errcheck
	return fn(tx, src)
}

// FindFacts reads one customer's facts, for explain; its state is empty.
func (q *QuerySource) FindFacts(ctx context.Context, rs *rules.RuleSet, key string) (*engine.Customer, error) {
	var c engine.Customer
	err := q.read(ctx, rs, func(tx *sql.Tx, src string) error {
		cols, err := factColumns(ctx, tx, q.d, src)
		if err != nil {
			return q.wrap(rs, err)
		}
		rows, err := tx.QueryContext(ctx, FactsQuery(q.d, rs, cols, src, "$1"), key)
		if err != nil {
			return q.wrap(rs, err)
		}
		defer rows.Close()
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return q.wrap(rs, err)
			}
			return fmt.Errorf("no customer %q in the facts source of %s", key, rs.Name)
		}
		c, err = NewFactsScanner(rs, q.d.Fact).Scan(rows.Scan)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Columns describes the columns the source returns.
func (q *QuerySource) Columns(ctx context.Context, rs *rules.RuleSet) ([]Column, error) {
	var cols []Column
	err := q.read(ctx, rs, func(tx *sql.Tx, src string) error {
		var err error
		if cols, err = readColumns(ctx, tx, q.d, src); err != nil {
			return q.wrap(rs, err)
		}
		return nil
	})
	return cols, err
}

// CheckFacts verifies that the source returns the key and every fact the
// rules read, with compatible types; see CheckColumns.
func (q *QuerySource) CheckFacts(ctx context.Context, rs *rules.RuleSet) ([]string, error) {
	cols, err := q.Columns(ctx, rs)
	if err != nil {
		return nil, err
	}
	return CheckColumns(rs, cols, q.d), nil
}

// FactsSchema derives a facts schema from the source's columns (all but
// the key), for rule files that declare no facts.
func (q *QuerySource) FactsSchema(ctx context.Context, rs *rules.RuleSet) (*rules.Schema, error) {
	cols, err := q.Columns(ctx, rs)
	if err != nil {
		return nil, err
	}
	return SchemaFromColumns(rs.Key, cols)
}
