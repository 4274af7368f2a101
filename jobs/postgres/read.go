package postgres

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// Dialect is PostgreSQL's part of the SQL kernel.
var Dialect = &kernel.Dialect{
	Name:    "PostgreSQL",
	KeyText: func(expr string) string { return expr + "::text" },
	// Facts are cast in SQL, so that they arrive in the Go type the engine
	// expects.
	FactExpr:   func(expr string, t rules.Type) string { return expr + "::" + castFor(t) },
	ColumnType: columnType,
	Fact:       rules.Field.Coerce,
	Time: func(v any) (time.Time, error) {
		t, _ := v.(time.Time)
		return utcOrZero(t), nil
	},
	InKeys: func(expr string, n int, keys []string) (string, any) {
		return expr + " = ANY($" + strconv.Itoa(n) + ")", pq.StringArray(keys)
	},
	BeginRead: beginRead,
}

// utcSQL makes casts of date and timestamp facts to timestamptz use UTC
// for the rest of the transaction.
const utcSQL = `SET LOCAL TIME ZONE 'UTC'`

// beginRead opens a repeatable-read, READ ONLY transaction (a plan cannot
// write even through a bug) in which date and timestamp facts read as UTC
// midnight or UTC time, whatever the role's default time zone.
func beginRead(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, utcSQL); err != nil {
		tx.Rollback() //nolint:errcheck
		return nil, err
	}
	return tx, nil
}

// columnType maps PostgreSQL type names (as database/sql reports them)
// to fact types; every PostgreSQL column has a declared type.
func columnType(dbType string) (rules.Type, bool, bool) {
	switch strings.ToUpper(dbType) {
	case "NUMERIC", "FLOAT4", "FLOAT8", "MONEY":
		return rules.TypeNumber, true, true
	case "INT2", "INT4", "INT8":
		return rules.TypeInteger, true, true
	case "TEXT", "VARCHAR", "BPCHAR", "CHAR", "NAME", "UUID", "CITEXT":
		return rules.TypeString, true, true
	case "BOOL":
		return rules.TypeBool, true, true
	case "DATE", "TIMESTAMP", "TIMESTAMPTZ":
		return rules.TypeTime, true, true
	}
	return 0, false, true
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

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}
