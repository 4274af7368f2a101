package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	// A fact is cast in SQL where its column's type converts exactly and
	// cannot fail; otherwise it is read as text and converted in Go, so
	// that a bad value is one customer's error, naming the value.
	FactExpr:     factExpr,
	TypedColumns: true,
	ByteOrder:    func(expr string) string { return "(" + expr + `) COLLATE "C"` },
	ShardOf:      shardOf,
	ColumnType:   columnType,
	Fact:         factValue,
	Time:         stateTime, // state times, read as text (timetext.go)
	TimeText:     stateTimeText,
	TimeArg:      func(t time.Time) any { return t.UTC() },
	InKeys: func(expr string, n int, keys []string) (string, any) {
		return expr + " = ANY($" + strconv.Itoa(n) + ")", pq.StringArray(keys)
	},
	Advice:        citusAdvice,
	BeginRead:     beginRead,
	ShareSnapshot: shareSnapshot,

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
	LeftSettings: leftSettings,
	LookUpState:  lookUpState,

	// Incremental runs' decision in the database of who is unchanged.
	Decide: &kernel.DecideSQL{Fact: decidedFact, Time: timeLiteral, Sample: decidedSample, Part: decidedPart, Parts: 2, Fault: statementFault},
}

// decidedFact is how the database's decision (kernel.DecideSQL) reads
// fact f from column expr of type col: the value as the engine sees it
// and the condition that a non-null value converts as factValue would.
// A value cast in SQL (factExpr) converts unless it is a float8 NaN or
// infinity, or an infinite time; a string fact's text always does. A
// numeric column, which factExpr reads as text for Go to parse, is cast
// here where the cast gives Go's value: numeric to float8 goes through
// the number's text and strtod, which round correctly as Go's ParseFloat
// does, so the value is the same within 1e-300..1e300 in magnitude (and
// 0), where neither refuses it; an integer fact takes a whole numeric
// within int64. Other values are converted in Go, which SQL cannot
// foretell, and so is a string fact from a column whose text depends on
// the session (textReadsSession). Every expression is immutable
// (utcTime).
func decidedFact(expr string, f rules.Field, col *kernel.Column) (value, valid string, ok bool) {
	if f.Type == rules.TypeString {
		if col != nil && textReadsSession(col.DBType) {
			return "", "", false
		}
		return factExpr(expr, f, col), "TRUE", true
	}
	if col == nil {
		return "", "", false
	}
	dbType := strings.ToUpper(col.DBType)
	if dbType == "NUMERIC" {
		switch f.Type {
		case rules.TypeNumber:
			return expr + "::float8", "(" + expr + " = 0 OR abs(" + expr + ") BETWEEN 1e-300 AND 1e300)", true
		case rules.TypeInteger:
			return expr + "::int8", "(" + expr + " = trunc(" + expr + ") AND " + expr + " BETWEEN -9223372036854775808 AND 9223372036854775807)", true
		}
		return "", "", false
	}
	if !castable(dbType, f.Type) {
		return "", "", false
	}
	value = factExpr(expr, f, col)
	switch {
	case f.Type == rules.TypeTime:
		// isfinite of the column as it is: the same answer, without
		// converting it a second time for each customer.
		finite := "isfinite(" + expr + ")"
		if dbType == "TIMESTAMPTZ" {
			finite = "isfinite(" + expr + "::timestamptz)"
		}
		return utcTime(expr, dbType), finite, true
	case f.Type == rules.TypeNumber && strings.HasPrefix(dbType, "FLOAT"):
		return value, value + " NOT IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)", true
	}
	return value, "TRUE", true
}

// textReadsSession reports whether the text of a column of type dbType
// depends on the session's settings (DateStyle, TimeZone, IntervalStyle,
// lc_monetary): its cast to text is stable, not immutable, so Citus
// would not push a decision that reads it down to its workers.
func textReadsSession(dbType string) bool {
	switch strings.ToUpper(dbType) {
	case "DATE", "TIME", "TIMETZ", "TIMESTAMP", "TIMESTAMPTZ", "INTERVAL", "MONEY":
		return true
	}
	return false
}

// utcTime is the time column expr of type dbType (DATE, TIMESTAMP or
// TIMESTAMPTZ) as the engine reads it, a timestamptz (a date at its
// midnight in UTC, a timestamp in UTC), with immutable functions only:
// the casts to timestamptz are stable, as they read the session's time
// zone, and Citus pushes the decision's steps down to its workers only
// when they call no stable function (sqlexpr's epoch).
func utcTime(expr, dbType string) string {
	switch dbType {
	case "DATE":
		return "timezone('UTC', " + expr + "::timestamp)"
	case "TIMESTAMP":
		return "timezone('UTC', " + expr + ")"
	}
	return expr + "::timestamptz"
}

// decidedSample is kernel.DecideSQL.Sample: the keys whose hashtext's
// low six bits are the as-of's day number's, one in 64, another 64th
// each day.
func decidedSample(key string, asOf time.Time) string {
	day := asOf.Unix() / 86400
	return "(hashtext(" + key + ") & " + strconv.Itoa(kernel.SampleOf-1) + ") = " + strconv.FormatInt(((day%kernel.SampleOf)+kernel.SampleOf)%kernel.SampleOf, 10)
}

// decidedPart is kernel.DecideSQL.Part: the keys whose hashtext is p
// modulo n (a power of two), by its low bits.
func decidedPart(key string, n, p int) string {
	return "(hashtext(" + key + ") & " + strconv.Itoa(n-1) + ") = " + strconv.Itoa(p)
}

// statementFault is kernel.DecideSQL.Fault: an error of class 22 (data
// exception: a division by zero, a value out of range) or 42 (syntax
// error or access rule violation).
func statementFault(err error) bool {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return false
	}
	class := pe.Code.Class()
	return class == "22" || class == "42"
}

// citusAdvice is kernel.Dialect.Advice: Citus refuses a join of
// distributed tables that are not co-located on the joined columns
// (feature not supported, 0A000), which is what a facts table
// distributed by another column or type than tierflow's customer_state
// gets.
func citusAdvice(err error) string {
	var pe *pq.Error
	if !errors.As(err, &pe) || pe.Code != "0A000" || !strings.Contains(pe.Message, "co-located") {
		return ""
	}
	return "on Citus, distribute the facts by their customer key, a text column, co-located with tierflow's customer_state: docs/operations.md#citus"
}

// timeLiteral is t as a timestamptz constant.
func timeLiteral(t time.Time) string {
	return kernel.QuoteLiteral(t.UTC().Format("2006-01-02 15:04:05.999999Z07:00")) + "::timestamptz"
}

// utcSQL makes casts of date and timestamp facts to timestamptz use UTC
// for the rest of the transaction, and the text of floats that facts are
// read as exact whatever the role's extra_float_digits. It also turns
// JIT compilation off (noJIT). On Citus, SET LOCAL stays on the
// coordinator unless citus.propagate_set_commands is 'local', and a
// worker would then read a date in its own time zone: so that comes
// first. PostgreSQL without Citus keeps it as a placeholder setting that
// nothing reads.
const utcSQL = `SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL TIME ZONE 'UTC'; SET LOCAL extra_float_digits = 3; ` + noJIT

// noJIT turns JIT compilation off for the rest of a transaction. The
// planner prices a read or a merge of a million customers far above
// jit_above_cost, and PostgreSQL then spends 1.2-1.4 CPU seconds
// compiling the snapshot query, on the cores the apply evaluates on,
// to save less than that: the query's execution took 3.2-3.45 s with JIT
// and 2.65-2.7 s without, and a full apply of a million customers 13.4 s
// with JIT on the server and 10.5 s without (docs/benchmarks.md).
const noJIT = `SET LOCAL jit = off`

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

// shareSnapshot exports the snapshot of the repeatable-read transaction
// tx and returns how to begin another one on it, READ ONLY and in UTC as
// beginRead's, for as long as tx is open.
func shareSnapshot(ctx context.Context, db *sql.DB, tx *sql.Tx) (func(context.Context) (*sql.Tx, error), error) {
	var id string
	if err := tx.QueryRowContext(ctx, `SELECT pg_export_snapshot()`).Scan(&id); err != nil {
		return nil, fmt.Errorf("export the read snapshot: %w", err)
	}
	return func(ctx context.Context) (*sql.Tx, error) {
		other, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		if err != nil {
			return nil, err
		}
		for _, q := range []string{`SET TRANSACTION SNAPSHOT ` + kernel.QuoteLiteral(id), utcSQL} {
			if _, err := other.ExecContext(ctx, q); err != nil {
				other.Rollback() //nolint:errcheck
				return nil, fmt.Errorf("import the read snapshot: %w", err)
			}
		}
		return other, nil
	}, nil
}

// factExpr reads column expr as fact f: cast to the fact's type where the
// column's declared type converts to it exactly and the cast cannot fail
// (castable), as text otherwise, for factValue to convert.
func factExpr(expr string, f rules.Field, col *kernel.Column) string {
	if col != nil && castable(col.DBType, f.Type) {
		return expr + "::" + castFor(f.Type)
	}
	return expr + "::text"
}

// castable reports whether a column of PostgreSQL type dbType (as
// database/sql reports it) casts to a fact of type t exactly and without
// fail. numeric is read as text for number facts too: its cast to float8
// fails past 1e308, where Go's conversion is a customer's error.
func castable(dbType string, t rules.Type) bool {
	switch strings.ToUpper(dbType) {
	case "INT2", "INT4", "INT8":
		return t == rules.TypeInteger || t == rules.TypeNumber
	case "FLOAT4", "FLOAT8":
		return t == rules.TypeNumber
	case "BOOL":
		return t == rules.TypeBool
	case "DATE", "TIMESTAMP", "TIMESTAMPTZ":
		return t == rules.TypeTime
	}
	return false
}

// factValue converts a fact value as lib/pq returns it: the Go type of
// its cast, or text. An integer fact read as text takes a decimal whose
// fraction is zero (numeric 3.00), never rounds one that is not (2.5).
func factValue(f rules.Field, v any) (any, error) {
	if s, ok := v.(string); ok && f.Type == rules.TypeInteger {
		if whole, ok := wholeDecimal(s); ok {
			v = whole
		}
	}
	return f.Coerce(v)
}

// wholeDecimal returns decimal text with a zero fraction (3.00, -7.0)
// without it, or false.
func wholeDecimal(s string) (string, bool) {
	s = strings.TrimSpace(s)
	i := strings.IndexByte(s, '.')
	if i < 0 || strings.TrimLeft(s[:i], "+-") == "" {
		return "", false
	}
	if strings.Trim(s[i+1:], "0") != "" {
		return "", false
	}
	return s[:i], true
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

// shardOf is jobs.ShardOf in SQL. md5 hashes the text's bytes in the
// database's encoding: the same bytes as Go's where that is UTF8 (or
// SQL_ASCII, which keeps the client's); a sharded apply refuses other
// encodings (checkShardEncoding).
func shardOf(key string, n int) string {
	return "('x' || substr(md5(" + key + "), 1, 8))::bit(32)::bigint % " + strconv.Itoa(n)
}
