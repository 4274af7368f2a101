package postgres

import (
	"strings"

	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// digestSQL hashes the text of a row of the fact expressions with
// hashtextextended, PostgreSQL's 64-bit hash of text (the one hash
// partitioning relies on staying the same): a row's text quotes its
// values and tells NULL from empty, so equal text means equal facts.
// The read transaction fixes what the text depends on (beginRead: UTC,
// exact floats).
func digestSQL(exprs []string) string {
	return "hashtextextended(ROW(" + strings.Join(exprs, ", ") + ")::text, 0)"
}

// newestSQL is the latest value of a time fact read as timestamptz (a
// date or timestamp column); one read as text cannot be ordered in SQL.
func newestSQL(expr string, f rules.Field, col *kernel.Column) (string, bool) {
	if col == nil || !castable(col.DBType, f.Type) {
		return "", false
	}
	return "max(" + expr + ")", true
}

// keysNotIn anti-joins: PostgreSQL hashes the keys once, where NOT IN
// over a subquery larger than work_mem compares row by row.
func keysNotIn(expr, keysSQL string) string {
	return "NOT EXISTS (SELECT 1 FROM (" + keysSQL + ") AS k(key) WHERE k.key = " + expr + ")"
}
