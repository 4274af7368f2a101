package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkStateEncodings compares ways to keep a customer's state in
// SQLite by the cost of the snapshot's read: facts joined to state, in
// the key's byte order, with three segmentations (segment, since,
// pending-since) and three action times per customer, 200,000 customers.
// old is the tables before migration 0008 (a row per segmentation and per
// action, one join each); json (the encoding chosen, stateSQL), jsonb and
// fixed (times in fixed-width text, read with substr) one row per
// customer, elements picked out in SQL; raw reads json's columns whole,
// for what picking the elements out costs; facts reads no state.
// docs/benchmarks.md has the figures:
//
//	go test -run '^$' -bench StateEncodings -benchtime 3x ./jobs/sqlite/
func BenchmarkStateEncodings(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a database of 200,000 customers")
	}
	const n = 200_000
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "enc.db")+"?_journal_mode=WAL")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	fillEncodings(b, db, n)
	for _, name := range []string{"facts", "old", "json", "jsonb", "fixed", "raw"} {
		q := encodingQueries[name]
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if got := readAll(b, db, q); got != n {
					b.Fatalf("%d rows, want %d", got, n)
				}
			}
		})
	}
}

const (
	encTime  = "2024-07-01T00:00:00.000000Z"
	encBlank = "                           " // a null time in fixed
)

// fillEncodings writes n customers' facts and the same state in every
// encoding.
func fillEncodings(b *testing.B, db *sql.DB, n int) {
	b.Helper()
	for _, q := range []string{
		`CREATE TABLE facts (id INTEGER PRIMARY KEY, a REAL, b INTEGER)`,
		`CREATE TABLE old_a (ruleset TEXT NOT NULL, segmentation TEXT NOT NULL, customer_key TEXT NOT NULL, segment TEXT NOT NULL, since TEXT NOT NULL,
			pending_since TEXT, reason TEXT NOT NULL, run_id INTEGER NOT NULL, PRIMARY KEY (ruleset, segmentation, customer_key)) STRICT, WITHOUT ROWID`,
		`CREATE TABLE old_l (ruleset TEXT NOT NULL, action TEXT NOT NULL, customer_key TEXT NOT NULL, queued_at TEXT NOT NULL,
			PRIMARY KEY (ruleset, action, customer_key)) STRICT, WITHOUT ROWID`,
		`CREATE TABLE s_json (ruleset TEXT NOT NULL, customer_key TEXT NOT NULL, segments TEXT, since TEXT, pending TEXT, acts TEXT,
			PRIMARY KEY (ruleset, customer_key)) STRICT, WITHOUT ROWID`,
		`CREATE TABLE s_jsonb (ruleset TEXT NOT NULL, customer_key TEXT NOT NULL, segments BLOB, since BLOB, pending BLOB, acts BLOB,
			PRIMARY KEY (ruleset, customer_key)) STRICT, WITHOUT ROWID`,
		`CREATE TABLE s_fixed (ruleset TEXT NOT NULL, customer_key TEXT NOT NULL, segments TEXT, since TEXT, pending TEXT, acts TEXT,
			PRIMARY KEY (ruleset, customer_key)) STRICT, WITHOUT ROWID`,
	} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	segs, since, pending := `["vip","active","online"]`, `["`+encTime+`","`+encTime+`","`+encTime+`"]`, `[null,null,null]`
	for i := 1; i <= n; i++ {
		k := fmt.Sprint(i)
		acts, fixedActs := `[null,"`+encTime+`",null]`, encBlank+encTime+encBlank
		stmts := []struct {
			q    string
			args []any
		}{
			{`INSERT INTO facts VALUES (?, ?, ?)`, []any{i, float64(i) * 1.5, i % 7}},
			{`INSERT INTO s_json VALUES ('r', ?, ?, ?, ?, ?)`, []any{k, segs, since, pending, acts}},
			{`INSERT INTO s_jsonb VALUES ('r', ?, jsonb(?), jsonb(?), jsonb(?), jsonb(?))`, []any{k, segs, since, pending, acts}},
			{`INSERT INTO s_fixed VALUES ('r', ?, ?, ?, ?, ?)`, []any{k, segs, strings.Repeat(encTime, 3), strings.Repeat(encBlank, 3), fixedActs}},
			{`INSERT INTO old_l VALUES ('r', 'act1', ?, ?)`, []any{k, encTime}},
		}
		for _, seg := range []string{"vt", "lc", "src"} {
			stmts = append(stmts, struct {
				q    string
				args []any
			}{`INSERT INTO old_a VALUES ('r', ?, ?, 'x', ?, NULL, 'r', 1)`, []any{seg, k, encTime}})
		}
		for _, st := range stmts {
			if _, err := tx.Exec(st.q, st.args...); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// encodingQueries are the snapshot reads of BenchmarkStateEncodings.
var encodingQueries = func() map[string]string {
	const facts, key = `CAST(f.id AS TEXT), f.a, f.b`, `CAST(f.id AS TEXT)`
	order := " ORDER BY " + key + " COLLATE BINARY"
	elems := func(pick func(col string, i int) string) string {
		var cols []string
		for i := range 3 {
			cols = append(cols, pick("segments", i), pick("since", i), pick("pending", i))
		}
		for i := range 3 {
			cols = append(cols, pick("acts", i))
		}
		return strings.Join(cols, ", ")
	}
	json := func(col string, i int) string { return fmt.Sprintf("json_extract(s.%s, '$[%d]')", col, i) }
	fixed := func(col string, i int) string {
		if col == "segments" {
			return json(col, i)
		}
		return fmt.Sprintf("nullif(substr(s.%s, %d, 27), '%s')", col, 27*i+1, encBlank)
	}
	state := func(table, cols string) string {
		return "SELECT " + facts + ", " + cols + " FROM facts f LEFT JOIN " + table + " s ON s.ruleset = 'r' AND s.customer_key = " + key + order
	}
	var old strings.Builder
	old.WriteString("SELECT " + facts)
	for i := range 3 {
		fmt.Fprintf(&old, ", a%d.segment, a%d.since, a%d.pending_since", i, i, i)
	}
	for i := range 3 {
		fmt.Fprintf(&old, ", l%d.queued_at", i)
	}
	old.WriteString(" FROM facts f")
	for i, seg := range []string{"vt", "lc", "src"} {
		fmt.Fprintf(&old, " LEFT JOIN old_a a%d ON a%d.ruleset = 'r' AND a%d.segmentation = '%s' AND a%d.customer_key = %s", i, i, i, seg, i, key)
	}
	for i := range 3 {
		fmt.Fprintf(&old, " LEFT JOIN old_l l%d ON l%d.ruleset = 'r' AND l%d.action = 'act%d' AND l%d.customer_key = %s", i, i, i, i, i, key)
	}
	return map[string]string{
		"facts": "SELECT " + facts + " FROM facts f" + order,
		"old":   old.String() + order,
		"json":  state("s_json", elems(json)),
		"jsonb": state("s_jsonb", elems(json)),
		"fixed": state("s_fixed", elems(fixed)),
		"raw":   state("s_json", "s.segments, s.since, s.pending, s.acts"),
	}
}()

// readAll reads every row of q as a snapshot does, and counts them.
func readAll(b *testing.B, db *sql.DB, q string) int {
	b.Helper()
	rows, err := db.Query(q)
	if err != nil {
		b.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		b.Fatal(err)
	}
	vals, dest := make([]any, len(cols)), make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}
