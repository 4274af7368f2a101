package sqlexpr_test

import (
	"database/sql"
	"regexp"
	"strings"
	"testing"
)

// qualified is a column of a test table as the translations read it
// (f."name"), so that immutable can read it unqualified.
var qualified = regexp.MustCompile(`\bf\.`)

// immutable fails t unless PostgreSQL takes each of exprs (SQL on the
// columns of tb, qualified f.) as an index expression, which it allows
// only when every function and operator in it is immutable. Citus pushes
// a subquery without FROM down to its workers (the decided read's steps
// for each customer are such subqueries) only when it calls no stable
// function, and then the results cannot depend on a worker's time zone:
// so nothing the translator writes may read the session's time zone
// (extract from a timestamptz, a timestamptz less an interval, a date
// cast to timestamptz). The index goes on an empty copy of the table, so
// no row is evaluated, and is rolled back. extra names more text columns
// the expressions read (a match outcome).
func immutable(t *testing.T, db *sql.DB, tb *table, what string, extra []string, exprs ...string) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	cols := ""
	for _, c := range extra {
		cols += ", ''::text AS " + c
	}
	if _, err := tx.Exec("CREATE TEMP TABLE immutable_probe AS SELECT f.*" + cols + " FROM " + tb.name + " f WITH NO DATA"); err != nil {
		t.Fatal(err)
	}
	for _, x := range exprs {
		if x == "" {
			continue
		}
		q := "CREATE INDEX ON immutable_probe ((" + qualified.ReplaceAllString(x, "") + "))"
		if _, err := tx.Exec("SAVEPOINT probe"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(q); err != nil {
			t.Errorf("%s: the SQL is not immutable (%v), so Citus would not push it down and its value may depend on the session's time zone:\n%s",
				what, err, strings.TrimPrefix(q, "CREATE INDEX ON immutable_probe "))
		}
		if _, err := tx.Exec("ROLLBACK TO SAVEPOINT probe"); err != nil {
			t.Fatal(err)
		}
	}
}
