package postgres

import (
	"context"
	"strings"

	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// digestSQL hashes a row of the fact expressions with
// hash_record_extended (PostgreSQL 14 and later), which combines each
// value's own 64-bit hash, the one hash partitioning relies on staying
// the same: it costs half as much as hashing the row's text. Text is
// hashed in the "C" collation, byte by byte, so that a nondeterministic
// collation cannot make two different strings equal. Values a type's
// hash takes as equal are equal to the rules too (0 and -0 in a float8
// fact compare equal; NaN is a fact error, which wakes a customer on
// every run).
func digestSQL(exprs []string) string {
	parts := make([]string, len(exprs))
	for i, e := range exprs {
		if strings.HasSuffix(e, "::text") {
			e += ` COLLATE "C"`
		}
		parts[i] = e
	}
	return "hash_record_extended(ROW(" + strings.Join(parts, ", ") + "), 0)"
}

// newestSQL is the latest value of a time fact read as timestamptz (a
// date or timestamp column); one read as text cannot be ordered in SQL.
func newestSQL(expr string, f rules.Field, col *kernel.Column) (string, bool) {
	if col == nil || !castable(col.DBType, f.Type) {
		return "", false
	}
	return "max(" + expr + ")", true
}

// changedAfter compares the column itself, so that an index on it can
// find the changed rows; the read transaction is in UTC, so a timestamp
// or date column compares as UTC.
func changedAfter(expr, param string) (string, string) {
	return expr + " > " + param + " OR " + expr + " IS NULL", expr + " <= " + param
}

// leftSettings make the anti-join of the state's keys with the source's
// hash the source's keys once: with the default settings the planner
// picks a merge join, and each parallel worker sorts every key of the
// source (3.8 s against 1.6 s at a million customers).
var leftSettings = []string{`SET LOCAL enable_mergejoin = off`}

// lookUpState looks up the state row of key by the primary key: of the
// customers a narrowed read selected by joining the source to the marks
// alone, or of the source rows its change column selected. OFFSET 0 keeps the planner from making the subquery an
// ordinary join, which it would hash: it estimates that the marks'
// conditions select every customer. At a million customers, 1% of them
// changed, the read took 1.1-1.2 s this way against 1.35-1.4 s with the
// whole rows hashed (181 bytes each against 22, in 8 batches against
// 32; docs/benchmarks.md).
func lookUpState(table, ruleset, key string) string {
	return "LEFT JOIN LATERAL (SELECT * FROM " + table + " st WHERE st.ruleset = " + ruleset + " AND st.customer_key = " + key + " OFFSET 0) AS st ON true"
}

// keysNotIn anti-joins: PostgreSQL hashes the keys once, where NOT IN
// over a subquery larger than work_mem compares row by row.
func keysNotIn(expr, keysSQL string) string {
	return "NOT EXISTS (SELECT 1 FROM (" + keysSQL + ") AS k(key) WHERE k.key = " + expr + ")"
}

// uniqueKey looks for a unique index (a primary key's or a unique
// constraint's included) on column alone, without a predicate.
func uniqueKey(ctx context.Context, q kernel.Queryer, table []string, column string) (bool, error) {
	parts := make([]string, len(table))
	for i, p := range table {
		parts[i] = kernel.QuoteIdent(p)
	}
	var unique bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnkeyatts = 1
		AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = $2)`, strings.Join(parts, "."), column).Scan(&unique)
	return unique, err
}
