package postgres

import (
	"database/sql"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// The array literals an apply stages read back in PostgreSQL as the
// change holds them: text with quotes, backslashes, commas and braces,
// the empty segment of a leave, NULL where a position is not set or a
// time is zero, times to the microsecond in UTC, and the run's id.
func TestStateArraysRoundTrip(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("postgres", pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2024, 7, 1, 12, 34, 56, 123456000, time.FixedZone("x", 3600))
	c := &kernel.StateChange{Customer: "k",
		Set:          []bool{true, false, true, true},
		Segments:     []string{`a "b" \c`, "x", "", "d,{e}"},
		Since:        []time.Time{at, {}, {}, at.Add(time.Hour)},
		PendingSince: []time.Time{{}, {}, {}, at},
		Reasons:      []string{"matched", "", "", "sticky"},
		ActionAt:     []time.Time{{}, at},
	}
	st := stateArrays(c, 42)
	const utc, null = "2024-07-01T11:34:56.123456Z", "NULL"
	for _, tc := range []struct {
		lit, typ, elem string
		want           []string
	}{
		{st[0], "text[]", "x", []string{`a "b" \c`, null, "", "d,{e}"}},
		{st[1], "timestamptz[]", timeText, []string{utc, null, null, "2024-07-01T12:34:56.123456Z"}},
		{st[2], "timestamptz[]", timeText, []string{null, null, null, utc}},
		{st[3], "text[]", "x", []string{"matched", null, null, "sticky"}},
		{st[4], "bigint[]", "x::text", []string{"42", null, null, "42"}},
		{st[5], "timestamptz[]", timeText, []string{null, utc}},
	} {
		var got []string
		q := `SELECT array_agg(coalesce(` + tc.elem + `, 'NULL') ORDER BY i) FROM unnest($1::` + tc.typ + `) WITH ORDINALITY AS u(x, i)`
		if err := db.QueryRow(q, tc.lit).Scan(pq.Array(&got)); err != nil {
			t.Fatalf("%s: %v", tc.lit, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s reads %q, want %q", tc.lit, got, tc.want)
		}
	}
}

// timeText is element x of a timestamptz[] as text, in UTC.
const timeText = `to_char(x AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

// A server older than PostgreSQL 14 is refused by name; 14 and later are
// not.
func TestServerError(t *testing.T) {
	if err := serverError(130016, "13.16"); err == nil || err.Error() != "PostgreSQL 13.16 is too old: tierflow needs PostgreSQL 14 or later" {
		t.Errorf("13.16: %v", err)
	}
	for _, num := range []int{140000, 150018, 170002} {
		if err := serverError(num, "x"); err != nil {
			t.Errorf("%d: %v", num, err)
		}
	}
}

// A snapshot's packed state (packState) splits back into the values it
// packed, NULL as "": text that PostgreSQL quotes (empty, quotes,
// backslashes, braces, commas, white space, NULL in any case) and text
// it does not, a time's text and a digest's.
func TestPackedStateRoundTrip(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	vals := []any{"gold", "", "NULL", "null", "NuLl", "NULLS", "a,b", `"q"`, `back\slash`, `x\`, `\"`, "{br}", " lead", "tab\there",
		"new\nline", "重要客户", "2024-07-01 11:34:56.123456+00", nil, "-9223372036854775808", nil}
	var elems []string
	var args []any
	for _, v := range vals {
		if v == nil {
			elems = append(elems, "NULL")
			continue
		}
		args = append(args, v)
		elems = append(elems, "$"+strconv.Itoa(len(args)))
	}
	var packed string
	if err := db.QueryRow("SELECT "+packState(elems), args...).Scan(&packed); err != nil {
		t.Fatal(err)
	}
	got, err := unpackState(make([]string, 0, 4), packed)
	if err != nil {
		t.Fatalf("%s: %v", packed, err)
	}
	var want []string
	for _, v := range vals {
		s, _ := v.(string)
		want = append(want, s)
	}
	if !slices.Equal(got, want) {
		t.Errorf("unpackState(%s)\n got %q\nwant %q", packed, got, want)
	}

	for _, bad := range []string{"", "{", "gold", `{"gold}`, `{"a"b}`, "{a,}", `{"a\"}`} {
		if got, err := unpackState(nil, bad); err == nil {
			t.Errorf("unpackState(%q) = %q, want an error", bad, got)
		}
	}
	if got, err := unpackState(nil, "{}"); err != nil || len(got) != 0 {
		t.Errorf("unpackState({}) = %q, %v; want no elements", got, err)
	}
}
