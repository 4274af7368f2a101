package postgres

import (
	"fmt"
	"time"

	"github.com/lib/pq"
)

// State times are read as the text of their timestamptz (stateTimeText)
// and parsed here, rather than left to lib/pq: its parser took 15% of
// tierflow's CPU in a full apply of a million customers, where a state
// row holds up to a dozen times. This parser takes 49 ns a time against
// lib/pq's 160 ns (BenchmarkParseTimestamptz); in a whole apply that is
// some 0.3 s of 11 CPU seconds, as lib/pq still makes the text a string
// (docs/benchmarks.md). The text
// is PostgreSQL's output with DateStyle ISO, which lib/pq sets on every
// connection: "2024-06-30 12:34:56.789+00", the fraction only where
// there is one, the offset of the session's time zone as ±HH, ±HH:MM or
// ±HH:MM:SS. parseTimestamptz reads that form itself and hands anything
// else (years past 9999, BC, infinity) to lib/pq's parser, so that every
// text converts as lib/pq would convert the timestamptz.

// stateTimeText reads a state time column expr as text.
func stateTimeText(expr string) string { return expr + "::text" }

// stateTime converts a state time as lib/pq returns it: the text of
// stateTimeText, a time.Time where a query reads the column as it is, or
// nil for none.
func stateTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return utcOrZero(x), nil
	case string: // lib/pq returns text as a string
		return parseTimestamptz(x)
	}
	return time.Time{}, fmt.Errorf("a state time arrived as %T, not a timestamptz", v)
}

// parseTimestamptz converts the text of a timestamptz in UTC.
func parseTimestamptz(s string) (time.Time, error) {
	if t, ok := parseISOTimestamptz(s); ok {
		return t, nil
	}
	t, err := pq.ParseTimestamp(nil, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("state time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// parseISOTimestamptz reads "YYYY-MM-DD HH:MM:SS[.fraction]±HH[:MM[:SS]]"
// with a four-digit year, false for anything else or a field out of
// range.
func parseISOTimestamptz(s string) (time.Time, bool) {
	if len(s) < 22 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(s, 0, 4)
	month, ok2 := digits(s, 5, 7)
	day, ok3 := digits(s, 8, 10)
	hour, ok4 := digits(s, 11, 13)
	minute, ok5 := digits(s, 14, 16)
	sec, ok6 := digits(s, 17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || year == 0 || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i, nsec := 19, 0
	if s[i] == '.' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 || j-i-1 > 9 {
			return time.Time{}, false
		}
		f, _ := digits(s, i+1, j)
		for k := j - i - 1; k < 9; k++ {
			f *= 10
		}
		i, nsec = j, f
	}
	if i+3 > len(s) || (s[i] != '+' && s[i] != '-') {
		return time.Time{}, false
	}
	sign := 1
	if s[i] == '-' {
		sign = -1
	}
	oh, ok := digits(s, i+1, i+3)
	if !ok {
		return time.Time{}, false
	}
	offset, i := oh*3600, i+3
	for unit := 60; i < len(s); unit /= 60 {
		if unit == 0 || i+3 > len(s) || s[i] != ':' {
			return time.Time{}, false
		}
		v, ok := digits(s, i+1, i+3)
		if !ok || v > 59 {
			return time.Time{}, false
		}
		offset, i = offset+v*unit, i+3
	}
	unix := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec) - int64(sign*offset)
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// daysFromCivil is the number of days from 1970-01-01 to year-month-day
// of the proleptic Gregorian calendar (Howard Hinnant's days_from_civil):
// time.Date does the same with normalization a parse does not need.
func daysFromCivil(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400 // year >= 1: no negative division
	yoe := y - era*400
	m := int64(month)
	if m > 2 {
		m -= 3
	} else {
		m += 9
	}
	doy := (153*m+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// digits is the decimal number s[from:to], false unless all are digits.
func digits(s string, from, to int) (int, bool) {
	n := 0
	for i := from; i < to; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn is the number of days of month in year (proleptic Gregorian, as
// PostgreSQL counts).
func daysIn(month time.Month, year int) int {
	if month == time.February && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		return 29
	}
	return monthDays[month-1]
}

var monthDays = [12]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
