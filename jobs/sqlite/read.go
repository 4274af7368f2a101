package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"time"

	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// Dialect is SQLite's part of the SQL kernel. SQLite's types are loose:
// facts are read as stored and converted in Go (factValue), and source
// checks look at values as well as declarations.
var Dialect = &kernel.Dialect{
	Name:       "SQLite",
	KeyText:    func(expr string) string { return "CAST(" + expr + " AS TEXT)" },
	FactExpr:   func(expr string, _ rules.Field, _ *kernel.Column) string { return expr },
	ByteOrder:  func(expr string) string { return expr + " COLLATE BINARY" },
	ColumnType: columnType,
	LooseTypes: true,
	Fact:       factValue,
	Time:       timeValue,
	TimeArg:    func(t time.Time) any { return formatTime(t) },
	InKeys: func(expr string, n int, keys []string) (string, any) {
		b, _ := json.Marshal(keys) // strings always marshal
		return expr + " IN (SELECT value FROM json_each($" + strconv.Itoa(n) + "))", string(b)
	},
	BeginRead: beginRead,

	// The effects report's counts (effects.go).
	JSONText:         jsonText,
	AddDays:          addDays,
	AnalyticSettings: analyticSettings,
	Derived:          derivedSQL,

	State: stateSQL, // the state rows' arrays (staterow.go)

	// Incremental runs' reading of changed customers only (changed.go).
	Digest:       digestSQL,
	Newest:       newestSQL,
	ChangedAfter: changedAfter,
	KeysNotIn:    keysNotIn,
	UniqueKey:    uniqueKey,
}

// beginRead opens a read transaction on a connection of a query_only
// pool. In WAL mode it sees the database as of its first read for as
// long as it lasts, while writers go on; and it cannot write, even
// through a bug, because SQLite refuses every write on that connection.
func beginRead(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	return db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
}

// factValue converts a value as SQLite returns it (int64, float64,
// string, []byte, nil; time.Time for columns declared DATE, DATETIME or
// TIMESTAMP whose text the driver reads as a time, the text itself when
// it cannot, such as 'n/a') to the fact's type; a value that does not
// convert is an error that quotes it. SQLite has no booleans: 0 is false and
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
