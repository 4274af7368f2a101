package kernel

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// Dialect is what one SQL backend supplies to the kernel: how its SQL
// reads keys and facts, how its driver's values decode, and how it opens
// a consistent read. Everything else is shared.
type Dialect struct {
	// Name is the backend's name, for messages: "PostgreSQL", "SQLite".
	Name string
	// KeyText is expr cast to text.
	KeyText func(expr string) string
	// FactExpr is the select expression that reads column expr as fact
	// f. col is that column of the source as the LIMIT 0 query describes
	// it, when the dialect reads column types (TypedColumns); nil
	// otherwise, or when the source has no such column.
	FactExpr func(expr string, f rules.Field, col *Column) string
	// TypedColumns is true when FactExpr decides by the source column's
	// declared type: readers then describe the source's columns in their
	// read transaction before they build their query.
	TypedColumns bool
	// ByteOrder is text expression expr with the collation that orders
	// text by its bytes, as Go compares strings.
	ByteOrder func(expr string) string
	// ColumnType maps a column type name as the driver reports it to a
	// fact type. mappable is false for types rules cannot read; declared
	// is false when the name says nothing (an expression, JSON), and the
	// column's values decide.
	ColumnType func(dbType string) (t rules.Type, mappable, declared bool)
	// Advice, where set, is what to do about err, an error of the
	// snapshot's query, which joins the facts to the state, when the
	// database says why it cannot run it (Citus, when the tables are not
	// co-located); "" for other errors.
	Advice func(err error) string
	// LooseTypes is true where a column may hold values of any type
	// (SQLite): source checks then read sample values.
	LooseTypes bool
	// Fact converts a fact value as the driver returns it.
	Fact func(f rules.Field, v any) (any, error)
	// Time converts a state time as the driver returns it (nil: none),
	// read as it is or as TimeText reads it.
	Time func(v any) (time.Time, error)
	// TimeText, where set, is how the snapshot reads a state time column
	// expr for Time to convert faster than the driver would (PostgreSQL:
	// as text; nil: as it is).
	TimeText func(expr string) string
	// TimeArg binds a time as the store's tables keep it.
	TimeArg func(t time.Time) any
	// InKeys is the condition that expr is one of keys (customer keys,
	// segmentation or action names), with placeholder number n, and the
	// argument to bind to it.
	InKeys func(expr string, n int, keys []string) (cond string, arg any)
	// JSONText is the text of key of the JSON object in column expr,
	// NULL when the object has no such key or the column is NULL, with
	// placeholder number n, and the argument to bind to it.
	JSONText func(expr string, n int, key string) (text string, arg any)
	// AddDays is state time expr plus days days of 24 hours, as Go's
	// AddDate adds them to a UTC time.
	AddDays func(expr string, days int) string
	// ShardOf is the SQL of the shard of n that text expression key
	// hashes to, as jobs.ShardOf computes it; nil where the dialect cannot
	// (runs of a shard then read every customer and keep their own).
	ShardOf func(key string, n int) string
	// AnalyticSettings, when set, are statements that tune the read
	// transaction of a query that groups millions of rows
	// (EffectsSQL.EffectCounts) before it runs.
	AnalyticSettings []string
	// State is how the store's state rows keep their arrays.
	State *StateSQL
	// Digest is the SQL expression of a digest of the values of exprs
	// (the snapshot's fact expressions): a 64-bit integer, never NULL,
	// equal for equal values and, but for hash collisions, different for
	// different ones. Snapshots return it with every customer, runs keep
	// it in the customer's mark, and an incremental run compares the two
	// in SQL to leave unread the customers whose facts did not change
	// (ChangedReader). Nil: the dialect has none; runs digest facts in Go
	// and read every customer.
	Digest func(exprs []string) string
	// Newest is the SQL aggregate of the latest value of time fact f as
	// expr (its FactExpr) reads it, a value Fact converts; false where the
	// dialect cannot order the values in SQL, and runs read everyone.
	Newest func(expr string, f rules.Field, col *Column) (string, bool)
	// ChangedAfter is the condition on a source row that the value of its
	// change column expr (a column Newest orders) is after the time
	// parameter param or NULL (changed), and the condition that it is not
	// (unchanged): an incremental run compares the digests of the first
	// rows only. Nil where the dialect cannot compare times in SQL.
	ChangedAfter func(expr, param string) (changed, unchanged string)
	// LookUpState, when set, is the join clause that gives a narrowed
	// read (an incremental run's) the whole state row st of table for
	// rule set literal ruleset and the customer of key expression key,
	// looked up by its primary key (a LATERAL subquery): the read then
	// joins the source to the state's marks alone (Marks), and looks up
	// the rows of only the customers it selects, rather than hashing
	// every customer's whole row to keep the few the marks select; the
	// rows a change column selects look their rows up directly. Nil:
	// the read joins the whole rows (SQLite, whose joins look rows up by
	// key anyway).
	LookUpState func(table, ruleset, key string) string
	// LeftSettings, when set, are statements that tune the read
	// transaction of the anti-join that finds the customers who left the
	// source (an incremental run's Keys) before it runs.
	LeftSettings []string
	// UniqueKey reports whether column of table (as a source names it,
	// schema-qualified or not, each part quoted) is unique by a
	// constraint or index, so that a source reading the table cannot
	// repeat a key; nil where the dialect cannot tell.
	UniqueKey func(ctx context.Context, q Queryer, table []string, column string) (bool, error)
	// KeysNotIn is the condition that text expression expr is none of
	// the keys keysSQL selects (never NULL), written so that the database
	// compares them by hash or index, not row by row.
	KeysNotIn func(expr, keysSQL string) string
	// Decide, when set, lets an incremental run leave unread the
	// customers the marks would read but whom the rules, run in the
	// database as their exact SQL translation (rules/sqlexpr), leave as
	// they are (decidedSQL); nil: the marks alone decide who is read.
	Decide *DecideSQL
	// Derived computes facts derived from transactions in one aggregate
	// query on the state database (QuerySource.AggregateDerived); nil
	// leaves them to the streaming pass.
	Derived *DerivedSQL
	// BeginRead opens a read-only transaction that sees one consistent
	// state for as long as it lasts, with date and time facts read as UTC.
	BeginRead func(ctx context.Context, db *sql.DB) (*sql.Tx, error)
	// ShareSnapshot, when set, exports the snapshot of read transaction
	// tx and returns how to begin another read transaction on db that
	// sees it, for as long as tx is open: the state lookups of a reader
	// run there while tx streams, because the driver cannot run a query
	// on a connection whose rows are open (lib/pq). When nil, every query
	// of a reader runs in tx, which must allow that (SQLite does).
	ShareSnapshot func(ctx context.Context, db *sql.DB, tx *sql.Tx) (begin func(ctx context.Context) (*sql.Tx, error), err error)
}

// Queryer is a *sql.DB, *sql.Tx or *sql.Conn.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tables are the qualified names of a store's state tables the kernel
// reads.
type Tables struct {
	// State holds one row per customer and rule set: the customer's
	// segments, their dates and the last time of each action, in arrays
	// indexed by the positions of Layout (staterow.go).
	State string
	// Layout maps each rule set's segmentations and actions to their
	// positions in the arrays of State.
	Layout string
	// Tally holds each rule set's counts of its state rows by segments
	// and digest (tally.go).
	Tally   string
	History string
	// Actions is the action queue, which the follow-up history is read
	// from (LoadFollowUps).
	Actions string
}

// ShardCond is the condition that text expression key is in shard sh
// (Dialect.ShardOf, which d must have). It is written as an inequality,
// abs(shard - I) < 1, which is the equality of two integers: a planner
// that knows nothing of the expression guesses a third of the rows pass
// an inequality and a two-hundredth an equality, and with that guess it
// looked up each of a shard's customers' state rows by index (1.8 s for
// 150,000) instead of hashing the state once.
func ShardCond(d *Dialect, key string, sh jobs.Shard) string {
	return "abs((" + d.ShardOf(key, sh.Count) + ") - " + strconv.Itoa(sh.Index) + ") < 1"
}

// advice is d.Advice of err in parentheses, to end its message with, or
// "" where there is none.
func (d *Dialect) advice(err error) string {
	if d.Advice == nil || err == nil {
		return ""
	}
	if a := d.Advice(err); a != "" {
		return " (" + a + ")"
	}
	return ""
}
