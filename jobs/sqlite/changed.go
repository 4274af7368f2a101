package sqlite

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"modernc.org/sqlite"

	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// SQLite has no hash function and no time type, so the store registers
// two deterministic SQL functions with the driver for incremental runs'
// reading of changed customers only (kernel.Dialect.Digest):
//
//	tierflow_digest(v, ...)  the xxhash64 of the values, type by type
//	tierflow_time(v)         v read as a time fact, as stored times are
//
// Only tierflow's own statements call them.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("tierflow_digest", -1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		return digestValues(args)
	})
	sqlite.MustRegisterDeterministicScalarFunction("tierflow_time", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		v, err := factValue(rules.Field{Type: rules.TypeTime}, args[0])
		if t, ok := v.(time.Time); ok && err == nil {
			return formatTime(t), nil
		}
		return nil, nil // not a time: the customer has a fact error and is read
	})
}

// digestValues hashes SQLite values with a tag for each type, so that 1,
// 1.0, '1' and NULL all differ.
func digestValues(args []driver.Value) (int64, error) {
	h := xxhash.New()
	var buf [9]byte
	for _, a := range args {
		switch x := a.(type) {
		case nil:
			buf[0] = 0
			h.Write(buf[:1])
		case int64:
			buf[0] = 1
			binary.LittleEndian.PutUint64(buf[1:], uint64(x))
			h.Write(buf[:])
		case float64:
			buf[0] = 2
			binary.LittleEndian.PutUint64(buf[1:], math.Float64bits(x))
			h.Write(buf[:])
		case string:
			buf[0] = 3
			binary.LittleEndian.PutUint64(buf[1:], uint64(len(x)))
			h.Write(buf[:])
			h.WriteString(x)
		case []byte:
			buf[0] = 4
			binary.LittleEndian.PutUint64(buf[1:], uint64(len(x)))
			h.Write(buf[:])
			h.Write(x)
		default:
			return 0, fmt.Errorf("tierflow_digest: unexpected %T", a)
		}
	}
	return int64(h.Sum64()), nil
}

// maxDigestArgs keeps a digest's arguments under SQLite's limit on a
// function's (SQLITE_MAX_FUNCTION_ARG, 127 by default): longer lists are
// digested in parts.
const maxDigestArgs = 100

func digestSQL(exprs []string) string {
	if len(exprs) <= maxDigestArgs {
		return "tierflow_digest(" + strings.Join(exprs, ", ") + ")"
	}
	var parts []string
	for len(exprs) > 0 {
		n := min(len(exprs), maxDigestArgs)
		parts = append(parts, digestSQL(exprs[:n]))
		exprs = exprs[n:]
	}
	return digestSQL(parts)
}

// newestSQL orders any time fact, read as stored times are.
func newestSQL(expr string, _ rules.Field, _ *kernel.Column) (string, bool) {
	return "max(tierflow_time(" + expr + "))", true
}

// changedAfter reads the column as stored times are (tierflow_time), in
// the fixed-width UTC text TimeArg passes: a value that is not a time
// counts as changed.
func changedAfter(expr, param string) (string, string) {
	t := "tierflow_time(" + expr + ")"
	return t + " > " + param + " OR " + t + " IS NULL", t + " <= " + param
}

// keysNotIn lets SQLite build an index of the keys once; a correlated
// NOT EXISTS would scan the source for every state row.
func keysNotIn(expr, keysSQL string) string {
	return expr + " NOT IN (" + keysSQL + ")"
}

// uniqueKey reports whether column is the table's one primary-key column
// (an INTEGER PRIMARY KEY is the rowid, with no index of its own) or has
// a unique index of its own, without a predicate.
func uniqueKey(ctx context.Context, q kernel.Queryer, table []string, column string) (bool, error) {
	name, schema := table[len(table)-1], "main"
	if len(table) == 2 {
		schema = table[0]
	}
	var unique bool
	err := q.QueryRowContext(ctx, `SELECT ((SELECT count(*) FROM pragma_table_info($1, $2) WHERE pk > 0) = 1
		AND EXISTS (SELECT 1 FROM pragma_table_info($1, $2) WHERE pk = 1 AND name = $3))
		OR EXISTS (SELECT 1 FROM pragma_index_list($1, $2) il WHERE il."unique" = 1 AND il.partial = 0
			AND (SELECT count(*) FROM pragma_index_info(il.name, $2)) = 1
			AND EXISTS (SELECT 1 FROM pragma_index_info(il.name, $2) ii WHERE ii.name = $3))`, name, schema, column).Scan(&unique)
	return unique, err
}
