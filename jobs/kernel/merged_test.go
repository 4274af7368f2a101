package kernel_test

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// The parts of a split read come back as one stream in byte order of
// their keys, every row once, whatever the parts' sizes (one empty).
func TestMergedRowsKeepKeyOrder(t *testing.T) {
	db := pgtest.DB(t)
	parts := []string{
		`SELECT k, n FROM (VALUES ('a', 1), ('c', 3), ('d', 4), ('é', 9)) AS v(k, n) ORDER BY k COLLATE "C"`,
		`SELECT k, n FROM (VALUES ('b', 2), ('ca', 5), ('z', 8)) AS v(k, n) ORDER BY k COLLATE "C"`,
		`SELECT k, n FROM (VALUES ('x', 0)) AS v(k, n) WHERE false`,
		`SELECT k, n FROM (VALUES ('D', 7)) AS v(k, n)`,
	}
	var open []*sql.Rows
	for _, q := range parts {
		r, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		open = append(open, r)
	}
	m, err := kernel.MergeRows(open)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m.Next() {
		if len(got) == 0 {
			var k any
			if err := m.Scan(&k, new(string)); err == nil {
				t.Fatal("a scan into a *string was taken")
			}
		}
		var k, n any
		if err := m.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, k.(string))
	}
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
	if g, want := strings.Join(got, " "), "D a b c ca d z é"; g != want {
		t.Fatalf("merged keys %q, want %q", g, want)
	}
	var k, n any
	if err := m.Scan(&k, &n); err == nil {
		t.Fatal("a scan after the last row was taken")
	}
}
