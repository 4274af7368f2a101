package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/tierflow/tierflow/internal/pgtest"
)

// pgText formats t as PostgreSQL writes a timestamptz with DateStyle ISO
// in a zone offset seconds east of UTC: fraction without trailing zeros,
// offset as ±HH, ±HH:MM or ±HH:MM:SS.
func pgText(t time.Time, offset int) string {
	l := t.In(time.FixedZone("", offset))
	s := l.Format("2006-01-02 15:04:05")
	if ns := l.Nanosecond(); ns != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%09d", ns), "0")
	}
	sign, o := '+', offset
	if o < 0 {
		sign, o = '-', -o
	}
	s += fmt.Sprintf("%c%02d", sign, o/3600)
	if o%3600 != 0 {
		s += fmt.Sprintf(":%02d", o%3600/60)
		if o%60 != 0 {
			s += fmt.Sprintf(":%02d", o%60)
		}
	}
	return s
}

// parseTimestamptz converts PostgreSQL's text of a timestamptz to the
// instant lib/pq's parser gives, over random times of years 1 to 9999
// with fractions of every length and offsets of whole hours, minutes and
// seconds, and the forms it leaves to lib/pq.
func TestParseTimestamptzAsLibPQ(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).Unix()
	offsets := []int{0, 3600, -3600, 5*3600 + 1800, -(9*3600 + 30*60), 5*3600 + 53*60 + 28, -(14 * 3600)}
	fast := 0
	for i := 0; i < 200000; i++ {
		tm := time.Unix(lo+r.Int64N(hi-lo), 0).UTC()
		switch r.IntN(3) {
		case 1:
			tm = tm.Add(time.Duration(r.IntN(1e6)) * time.Microsecond)
		case 2:
			tm = tm.Add(time.Duration(r.IntN(10)) * 100 * time.Millisecond)
		}
		s := pgText(tm, offsets[r.IntN(len(offsets))])
		if _, ok := parseISOTimestamptz(s); ok {
			fast++
		}
		checkAsLibPQ(t, s)
	}
	if fast < 190000 {
		t.Errorf("the fast path read %d of 200000 texts of four-digit years", fast)
	}
	for _, s := range []string{
		"2024-06-30 00:00:00+00", "2024-02-29 23:59:59.999999+00", "0001-01-01 00:00:00+00",
		"0044-03-15 12:00:00+00 BC", "12024-06-30 00:00:00+00", "infinity", "-infinity",
		"2023-02-29 00:00:00+00", "2024-06-30 24:00:00+00", "2024-06-30 00:00:00", "2024-06-30 00:00:00+0",
		"2024-06-30 00:00:00.+00", "2024-06-30 00:00:00+00:60", "2024-06-30 00:00:00+00:30:15:01", "2024-06-30T00:00:00+00",
	} {
		checkAsLibPQ(t, s)
	}
}

// checkAsLibPQ checks that parseTimestamptz converts s as lib/pq does,
// and fails where it fails.
func checkAsLibPQ(t *testing.T, s string) {
	t.Helper()
	got, err := parseTimestamptz(s)
	want, werr := pq.ParseTimestamp(nil, s)
	switch {
	case (err != nil) != (werr != nil):
		t.Fatalf("%q: parseTimestamptz error %v, lib/pq's %v", s, err, werr)
	case err == nil && (!got.Equal(want) || got.Location() != time.UTC):
		t.Fatalf("%q: parseTimestamptz %v, lib/pq %v", s, got, want)
	}
}

// The fast path accepts nothing lib/pq reads otherwise or rejects.
func FuzzParseTimestamptz(f *testing.F) {
	for _, s := range []string{"2024-06-30 12:34:56.789+00", "1999-12-31 23:59:59-05:30", "2024-06-30 00:00:00+05:53:28", "0044-03-15 12:00:00+00 BC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseISOTimestamptz(s)
		if !ok {
			return
		}
		want, err := pq.ParseTimestamp(nil, s)
		if err != nil || !got.Equal(want) {
			t.Fatalf("%q: fast path %v, lib/pq %v (%v)", s, got, want, err)
		}
	})
}

// State times read as text convert to the instants PostgreSQL holds,
// whatever the session's time zone and DateStyle's field order, as the
// same columns read as timestamptz do.
func TestStateTimeTextLive(t *testing.T) {
	ctx := context.Background()
	conn, err := pgtest.DB(t).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, zone := range []string{"UTC", "Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam", "Asia/Kathmandu"} {
		for _, style := range []string{"ISO, MDY", "ISO, DMY"} {
			if _, err := conn.ExecContext(ctx, `SELECT set_config('timezone', $1, false), set_config('datestyle', $2, false)`, zone, style); err != nil {
				t.Fatal(err)
			}
			rows, err := conn.QueryContext(ctx, `SELECT t, t::text FROM (VALUES (timestamptz '2024-06-30 12:34:56.789012+00'), ('1883-11-18 12:00:00+00'),
                ('0001-01-01 00:00:00+00'), ('0044-03-15 12:00:00+00 BC'), ('12024-01-01 00:00:00+00'), ('2024-02-29 23:59:59.5+00'),
                ('1970-01-01 00:00:00+00')) AS v (t)`)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var typed time.Time
				var text string
				if err := rows.Scan(&typed, &text); err != nil {
					t.Fatal(err)
				}
				got, err := stateTime(text)
				if err != nil || !got.Equal(typed) {
					t.Errorf("%s, %s: %q read as %v (%v), as a timestamptz %v", zone, style, text, got, err, typed)
				}
				n++
			}
			if err := rows.Err(); err != nil || n != 7 {
				t.Fatalf("%s: %d rows, %v", zone, n, err)
			}
			rows.Close()
		}
	}
}

// BenchmarkParseTimestamptz compares the fast path with lib/pq's parser
// on a state time as the snapshot reads it:
//
//	go test -run '^$' -bench ParseTimestamptz -benchmem ./jobs/postgres/
func BenchmarkParseTimestamptz(b *testing.B) {
	const s = "2024-06-30 12:34:56.789012+00"
	b.Run("fast", func(b *testing.B) {
		for range b.N {
			if _, err := parseTimestamptz(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("libpq", func(b *testing.B) {
		for range b.N {
			if _, err := pq.ParseTimestamp(nil, s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
