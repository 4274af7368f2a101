package rules

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// A date fact is a calendar day with no time of day and no zone. Its
// value, in facts rows and in the expression environment, is a time.Time
// at 00:00 UTC of that day, so that dates sort, compare, encode and
// display as the times at midnight they were before the type existed.
// Expressions keep dates and times apart by type: when a file is
// checked, a date has the type dateValue (below), never a time's; the
// date helpers rewrite themselves by the types of their arguments (see
// dateVisitor), and a date is never compared with a time.

// dateValue is the type the expression checker gives dates. No value of
// it exists at run time: the VM sees the time.Time at 00:00 UTC. Its kind
// is one no rule value has (a complex number, which the checker neither
// orders nor adds), because the checker takes a list of values of one
// kind to be a list of the last one's type: a list of a date and a time
// (a struct, as time.Time is) would be a list of times.
type dateValue complex64

var dateType = reflect.TypeOf(dateValue(0))

// AsOfDateVar is the variable that holds the as-of date: the calendar day
// of the run's as-of time in the rule set's time zone, as a date value
// (00:00 UTC of that day). date(as_of) and the date helpers read it; like
// AbsentVar it contains a dot, so no fact can take the name.
const AsOfDateVar = "as_of.date"

// DateIn returns the calendar day of the instant t in loc (UTC when nil)
// as a date value: 00:00 UTC of that day.
func DateIn(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Zone returns the rule set's time zone: Location, or UTC when it is nil
// (a rule set built by hand).
func (rs *RuleSet) Zone() *time.Location {
	if rs == nil || rs.Location == nil {
		return time.UTC
	}
	return rs.Location
}

// LoadZone loads an IANA time zone by name ("Asia/Shanghai", "UTC").
// "Local" and "" are refused: results must not depend on the machine.
func LoadZone(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || strings.EqualFold(name, "local") {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

// coerceDate converts v to a date value. A date ("2024-06-30") is that
// day. A time is accepted when it is exactly midnight, either on its own
// clock (the offset it carries: PostgreSQL's date, or a date cast to
// timestamptz in the session's zone) or in zone (the rule set's time zone),
// and is then that day; any other time of day is an error, never
// truncated, so that no day shifts silently.
func coerceDate(v any, zone *time.Location) (any, error) {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	switch x := v.(type) {
	case time.Time:
		return dateOfMidnight(x, zone)
	case string:
		s := strings.TrimSpace(x)
		if d, ok := parseDateOnly(s); ok {
			return d, nil
		}
		t, ok := parseTimeAsWritten(s)
		if !ok {
			return nil, fmt.Errorf("%q is not a date (write 2024-06-30)", x)
		}
		return dateOfMidnight(t, zone)
	}
	return nil, fmt.Errorf("%v (%T) is not a date", v, v)
}

// dateOfMidnight returns the day t starts, if t is midnight on its own
// clock or in zone.
func dateOfMidnight(t time.Time, zone *time.Location) (time.Time, error) {
	if zone == nil {
		zone = time.UTC
	}
	if isMidnight(t) {
		return DateIn(t, t.Location()), nil
	}
	if isMidnight(t.In(zone)) {
		return DateIn(t, zone), nil
	}
	return time.Time{}, fmt.Errorf("%s has a time of day (%s in %s), but the fact is a date: "+
		"declare it time, give the day alone (2024-06-30), or cast it to a date where the facts are made, in the business's zone "+
		"(PostgreSQL: (col AT TIME ZONE 'America/New_York')::date); if it is midnight in the business's zone, set timezone: at the top of the rule file",
		t.Format(time.RFC3339Nano), t.In(zone).Format("15:04:05"), zone)
}

func isMidnight(t time.Time) bool {
	h, m, s := t.Clock()
	return h == 0 && m == 0 && s == 0 && t.Nanosecond() == 0
}

// parseDateOnly parses "2024-06-30" without time.Parse.
func parseDateOnly(s string) (time.Time, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	num := func(p string) (int, bool) {
		n := 0
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return 0, false
			}
			n = n*10 + int(p[i]-'0')
		}
		return n, true
	}
	y, ok1 := num(s[:4])
	m, ok2 := num(s[5:7])
	d, ok3 := num(s[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(time.Month(m), y) {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseTimeAsWritten parses a date-time as ParseTime does, keeping the
// offset it is written with (a time without one is UTC).
func parseTimeAsWritten(s string) (time.Time, bool) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// ParseTimeIn parses a date or a date-time as ParseTime does, except that
// a date alone is the start of that day in loc, and a date-time without
// an offset is read on loc's clock. Test cases read their as_of, since
// and at times this way, in the rule set's time zone.
func ParseTimeIn(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	s = strings.TrimSpace(s)
	if d, ok := parseDateOnly(s); ok {
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc).UTC(), nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (use 2024-06-30 or 2024-06-30T02:00:00Z)", s)
}
