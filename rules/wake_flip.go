package rules

import (
	"math"
	"time"
)

// wakeKind is what an instrumented comparison measures from the as-of.
type wakeKind uint8

const (
	// wakeAsOf is as_of, the instant.
	wakeAsOf wakeKind = iota
	// wakeAsOfDate is the as-of date, as_of.date.
	wakeAsOfDate
	// wakeDays is days_since(u) or days_between(u, as_of) of a time u:
	// 24-hour periods from u; wakeDaysUntil is days_between(as_of, u).
	wakeDays
	wakeDaysUntil
	// wakeDateDays is days_between(u, as_of.date): calendar days from the
	// date u; wakeDateDaysUntil is days_between(as_of.date, u).
	wakeDateDays
	wakeDateDaysUntil
	// wakeMonths is months_since(u) of a time, or months_between(u,
	// as_of); wakeMonthsUntil is months_between(as_of, u).
	wakeMonths
	wakeMonthsUntil
	// wakeDateMonths is months_between(u, as_of.date) of a date, and
	// wakeDateMonthsUntil months_between(as_of.date, u).
	wakeDateMonths
	wakeDateMonthsUntil
	// wakeYear and wakeMonth are year and month of the as-of, in the zone.
	wakeYear
	wakeMonth
	// wakeDaysIn, wakeDaysInPrevious and wakeDaysSinceCovered are
	// days_in.X, days_in_previous.X and days_since_covered.X.
	wakeDaysIn
	wakeDaysInPrevious
	wakeDaysSinceCovered
)

// until reports whether the measure counts down to a value (days or
// months until it), so that it only decreases.
func (k wakeKind) until() bool {
	return k == wakeDaysUntil || k == wakeDateDaysUntil || k == wakeMonthsUntil || k == wakeDateMonthsUntil
}

// wakeArg says where one argument of a measuring helper comes from.
type wakeArg uint8

const (
	wakeArgU        wakeArg = iota // the value measured from
	wakeArgAsOf                    // as_of
	wakeArgAsOfDate                // as_of.date
)

// wakeAtom is one instrumented comparison of a measure of the as-of with
// a value that does not depend on it.
type wakeAtom struct {
	kind wakeKind
	// op is the operator as if the measure were its left operand; right
	// is true when it is the right one as written.
	op    string
	right bool
	// seg is the segmentation of the days_in kinds.
	seg int
	// compare is the comparison as written, failing as the operator does.
	compare func(a, b any) bool
	// fn and args compute the measure with a helper called name; nil for
	// a variable. days is true for days_since(u) and days_between(u,
	// as_of) of a time, which direct computes without the helper.
	fn   func(...any) (any, error)
	args []wakeArg
	name string
	days bool
}

// maxWakeSpan bounds how far after the as-of a flip is searched for when
// it has no closed form; past it the customer wakes at the bound.
const maxWakeSpan = 100 * 365 * 24 * time.Hour

const wakeDay = 24 * time.Hour

// record records when the comparison, which found the measure v (of u)
// and the other operand c, can change its answer.
func (a *wakeAtom) record(r *WakeRecorder, u, v, c any) {
	if t, ok := a.flip(r, u, v, c); ok {
		r.At(t)
	}
}

// flip returns the earliest instant after r.AsOf at which the comparison
// can give the other answer, or false when it never does.
func (a *wakeAtom) flip(r *WakeRecorder, u, v, c any) (time.Time, bool) {
	switch a.kind {
	case wakeAsOf:
		return instantFlip(a.op, r.AsOf, c)
	case wakeAsOfDate:
		today, ok1 := v.(time.Time)
		d, ok2 := c.(time.Time)
		if !ok1 || !ok2 {
			return time.Time{}, false
		}
		k, ok := threshold(dayNumber(today), a.op, float64(d.Unix())/86400+float64(d.Nanosecond())/86400e9)
		if !ok || math.Abs(float64(k)) > 1e8 {
			return time.Time{}, false
		}
		return startOfDay(time.Unix(0, 0).UTC().AddDate(0, 0, k), r.Zone), true
	case wakeMonth:
		y, m, _ := DateIn(r.AsOf, r.Zone).Date()
		return startOfDay(time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC), r.Zone), true
	}
	n, ok1 := v.(int)
	cf, ok2 := toFloat(c)
	if !ok1 || !ok2 {
		return time.Time{}, false // == or != of a number with null: never true
	}
	op, dir := a.op, 1
	if a.kind.until() {
		op, dir, cf = mirror(op), -1, -cf
	}
	var k int
	var ok bool
	if ci, isInt := c.(int); isInt && ci > -1e15 && ci < 1e15 {
		k, ok = thresholdInt(dir*n, op, dir*ci)
	} else {
		k, ok = threshold(dir*n, op, cf)
	}
	if !ok || k > 1e8 {
		return time.Time{}, false
	}
	ut, _ := u.(time.Time)
	return a.reach(r, ut, n, dir, k)
}

// thresholdInt is threshold for an integer c, without floating point.
func thresholdInt(g0 int, op string, c int) (int, bool) {
	switch op {
	case ">", "<=":
		// g > c turns true, and g <= c false, at c+1.
		if g0 <= c {
			return c + 1, true
		}
	case ">=", "<":
		if g0 < c {
			return c, true
		}
	case "==", "!=":
		switch {
		case g0 < c:
			return c, true
		case g0 == c:
			return g0 + 1, true
		}
	}
	return 0, false
}

// mirror is the operator that compares -a with -b as op compares a
// with b.
func mirror(op string) string {
	switch op {
	case "<":
		return ">"
	case "<=":
		return ">="
	case ">":
		return "<"
	case ">=":
		return "<="
	}
	return op
}

// threshold returns the smallest integer k above g0 for which g OP c
// differs from g0 OP c, for a measure g that only grows; false when there
// is none (the answer never changes).
func threshold(g0 int, op string, c float64) (int, bool) {
	if math.IsNaN(c) || math.IsInf(c, 0) || math.Abs(c) > 1e15 {
		return 0, false
	}
	g := float64(g0)
	switch op {
	case ">":
		if g <= c {
			return int(math.Floor(c)) + 1, true
		}
	case ">=":
		if g < c {
			return int(math.Ceil(c)), true
		}
	case "<":
		if g < c {
			return int(math.Ceil(c)), true
		}
	case "<=":
		if g <= c {
			return int(math.Floor(c)) + 1, true
		}
	case "==", "!=":
		switch {
		case g < c:
			return int(math.Ceil(c)), true
		case g == c:
			return g0 + 1, true
		}
	}
	return 0, false
}

// instantFlip is flip for as_of OP c.
func instantFlip(op string, t0 time.Time, c any) (time.Time, bool) {
	ct, ok := c.(time.Time)
	if !ok {
		return time.Time{}, false
	}
	switch op {
	case ">", "<=":
		if !t0.After(ct) {
			return ct.Add(1), true
		}
	case ">=", "<":
		if t0.Before(ct) {
			return ct, true
		}
	case "==", "!=":
		if t0.Before(ct) {
			return ct, true
		}
		if t0.Equal(ct) {
			return ct.Add(1), true
		}
	}
	return time.Time{}, false
}

// dayNumber is the number of a date value's day since 1970-01-01.
func dayNumber(d time.Time) int {
	return int(math.Floor(float64(d.Unix()) / 86400))
}
