package storetest

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// stateTables are the tables an apply writes besides runs.
var stateTables = []string{"assignments", "history", "actions", "action_last"}

// stateColumns names each state table's columns without the surrogate
// ids (id, run_id), which depend on how many runs and rows came before:
// two databases that reached the same state by different paths agree on
// these.
var stateColumns = map[string]string{
	"assignments": "ruleset, segmentation, customer_key, segment, since, pending_since, reason",
	"history":     "ruleset, segmentation, customer_key, from_segment, to_segment, matched, reason, as_of",
	"actions": "ruleset, action, customer_key, payload, priority, status, created_at, due_at, attempts, " +
		"claimed_at, finished_at, last_error, idempotency_key",
	"action_last": "ruleset, action, customer_key, queued_at",
}

// digest returns a hash over every row the query returns, in a stable
// order, and the number of rows.
func (e *env) digest(query string, args ...any) string {
	e.t.Helper()
	return digestOf(e.t, e.s, e.sql(query), args...)
}

func digestOf(t testing.TB, s Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.DB().Query(query, args...)
	if err != nil {
		t.Fatalf("digest of %s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	var lines []string
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("digest of %s: %v", query, err)
		}
		var b strings.Builder
		for _, v := range vals {
			switch x := v.(type) {
			case []byte:
				fmt.Fprintf(&b, "%q|", x)
			case time.Time:
				fmt.Fprintf(&b, "%s|", x.UTC().Format(time.RFC3339Nano))
			default:
				fmt.Fprintf(&b, "%T:%v|", v, v)
			}
		}
		lines = append(lines, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("digest of %s: %v", query, err)
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return fmt.Sprintf("%d rows %x", len(lines), sum[:8])
}

// StateDigest returns a digest per state table (assignments, history,
// actions, action_last) over whole rows: equal digests mean equal tables.
func StateDigest(t testing.TB, s Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range stateTables {
		out[table] = digestOf(t, s, "SELECT * FROM "+quoteIdent(s.Schema())+"."+table)
	}
	return out
}

// OutcomeDigest is StateDigest without surrogate ids, for comparing
// databases that got to their state by different runs.
func OutcomeDigest(t testing.TB, s Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range stateTables {
		out[table] = digestOf(t, s, "SELECT "+stateColumns[table]+" FROM "+quoteIdent(s.Schema())+"."+table)
	}
	return out
}

func (e *env) stateDigest() map[string]string   { return StateDigest(e.t, e.s) }
func (e *env) outcomeDigest() map[string]string { return OutcomeDigest(e.t, e.s) }

// databaseDigest covers everything in the database (Backend.Contents).
func (e *env) databaseDigest() map[string]string {
	e.t.Helper()
	qs := e.b.Contents(e.t, e.s)
	if len(qs) < 8 {
		e.t.Fatalf("the backend's contents are only %v; want every table", qs)
	}
	out := map[string]string{}
	for _, q := range qs {
		out[q] = e.digest(q)
	}
	return out
}

// SameDigests fails the test with the tables whose digests differ.
func SameDigests(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: compared %d tables with %d", what, len(got), len(want))
	}
	for table, w := range want {
		if g := got[table]; g != w {
			t.Errorf("%s: %s differs: got %s, want %s", what, table, g, w)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}
