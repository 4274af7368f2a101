package gen

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// maxParams bounds the parameters of one INSERT: old SQLite builds allow
// 999.
const maxParams = 999

// LoadSQL is LoadPostgres for any database/sql driver, with multi-row
// INSERTs instead of COPY: dialect is "sqlite" (? placeholders; REAL,
// DATE, TIMESTAMP and TEXT columns, dates and times stored as ISO 8601
// text) or "postgres" ($1 placeholders; the types LoadPostgres uses). It
// creates the table, replacing one that an earlier load created (see
// Marker), and inserts every row, all in one transaction. It returns the
// number of rows loaded.
func LoadSQL(ctx context.Context, db *sql.DB, dialect, table string, src Rows) (n int64, err error) {
	if dialect != DialectSQLite && dialect != DialectPostgres {
		return 0, fmt.Errorf("dialect %q: use %q or %q", dialect, DialectSQLite, DialectPostgres)
	}
	_, quoted, err := tableName(table)
	if err != nil {
		return 0, err
	}
	cols := src.Columns()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := replaceable(ctx, tx, dialect, table, quoted); err != nil {
		return 0, err
	}
	create := []string{createTable(dialect, quoted, cols, true)}
	if dialect == DialectPostgres {
		create = append(create, fmt.Sprintf("COMMENT ON TABLE %s IS '%s'", quoted, Marker))
	}
	for _, s := range create {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return 0, fmt.Errorf("create %s: %w", table, err)
		}
	}
	if n, err = insertRows(ctx, tx, dialect, quoted, cols, src); err != nil {
		return n, fmt.Errorf("load %s: %w", table, err)
	}
	return n, tx.Commit()
}

// insertRows inserts src in batches of as many rows as fit in maxParams,
// with one prepared statement for the full batches.
func insertRows(ctx context.Context, tx *sql.Tx, dialect, quoted string, cols []Column, src Rows) (n int64, err error) {
	per := max(1, min(maxParams/len(cols), 500))
	full, err := tx.PrepareContext(ctx, insertSQL(dialect, quoted, cols, per))
	if err != nil {
		return 0, err
	}
	defer full.Close()
	row := make([]Value, len(cols))
	args := make([]any, 0, per*len(cols))
	for src.NextRow(row) {
		for i, c := range cols {
			args = append(args, insertValue(dialect, c.Kind, &row[i]))
		}
		if len(args) < cap(args) {
			continue
		}
		if _, err := full.ExecContext(ctx, args...); err != nil {
			return n, err
		}
		n += int64(per)
		args = args[:0]
	}
	if rest := len(args) / len(cols); rest > 0 {
		if _, err := tx.ExecContext(ctx, insertSQL(dialect, quoted, cols, rest), args...); err != nil {
			return n, err
		}
		n += int64(rest)
	}
	return n, nil
}

// insertSQL is an INSERT of rows rows.
func insertSQL(dialect, quoted string, cols []Column, rows int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", quoted, columnList(cols))
	p := 0
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for i := range cols {
			if i > 0 {
				b.WriteByte(',')
			}
			p++
			if dialect == DialectSQLite {
				b.WriteByte('?')
			} else {
				fmt.Fprintf(&b, "$%d", p)
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// insertValue is a value as the dialect stores it: SQLite gets dates
// (2024-06-30) and times (RFC 3339, UTC) as text, whatever the driver
// would make of a time.Time.
func insertValue(dialect string, k Kind, v *Value) any {
	switch {
	case v.Null:
		return nil
	case dialect == DialectSQLite && k == KindDate:
		return v.Time.Format(time.DateOnly)
	case dialect == DialectSQLite && k == KindTime:
		return v.Time.UTC().Format(time.RFC3339)
	}
	return copyValue(k, v)
}
