package rules

import (
	"math"
	"time"
)

// maxWakeDays is the most days a duration holds: Sub saturates past it,
// so a count of days never exceeds it.
const maxWakeDays = int(math.MaxInt64 / int64(wakeDay))

// reach returns the earliest instant after r.AsOf at which dir times the
// measure of u (n at the as-of) is at least k, which is above dir*n.
func (a *wakeAtom) reach(r *WakeRecorder, u time.Time, n, dir, k int) (time.Time, bool) {
	switch a.kind {
	case wakeDays:
		return daysReach(u, k)
	case wakeDaysUntil:
		return daysUntilReach(u, -k)
	case wakeDateDays, wakeDateDaysUntil:
		// (as_of.date - u) grows either way; until is its negation.
		return startOfDay(u.AddDate(0, 0, k), r.Zone), true
	case wakeMonths:
		if n >= 0 {
			return u.In(r.Zone).AddDate(0, k, 0), true
		}
	case wakeDateMonths:
		if n >= 0 {
			return startOfDay(u.AddDate(0, k, 0), r.Zone), true
		}
	case wakeYear:
		return startOfDay(time.Date(k, 1, 1, 0, 0, 0, 0, time.UTC), r.Zone), true
	case wakeDaysIn, wakeDaysInPrevious, wakeDaysSinceCovered:
		since := a.from(r)
		if since.IsZero() {
			return time.Time{}, false // 0, or -1 for never covered, for good
		}
		return daysReach(since, k)
	}
	return firstInstant(r.AsOf, r.AsOf.Add(maxWakeSpan), func(t time.Time) bool {
		return dir*a.value(r, u, t) >= k
	})
}

// from is what a days_in kind counts from.
func (a *wakeAtom) from(r *WakeRecorder) time.Time {
	var ts []time.Time
	switch a.kind {
	case wakeDaysIn:
		ts = r.Since
	case wakeDaysInPrevious:
		ts = r.PrevSince
	default:
		ts = r.Covered
	}
	if a.seg < len(ts) {
		return ts[a.seg]
	}
	return time.Time{}
}

// value is the measure of u at the as-of t, as the expression computes
// it, for the integer kinds.
func (a *wakeAtom) value(r *WakeRecorder, u, t time.Time) int {
	zt, today := t.In(r.Zone), DateIn(t, r.Zone)
	switch a.kind {
	case wakeDays:
		return daysBetween(u, zt)
	case wakeDaysUntil:
		return daysBetween(zt, u)
	case wakeDateDays:
		return daysBetween(u, today)
	case wakeDateDaysUntil:
		return daysBetween(today, u)
	case wakeMonths:
		return monthsBetween(u, zt)
	case wakeMonthsUntil:
		return monthsBetween(zt, u.In(r.Zone))
	case wakeDateMonths:
		return monthsBetween(u, today)
	case wakeDateMonthsUntil:
		return monthsBetween(today, u)
	case wakeYear:
		return zt.Year()
	case wakeMonth:
		return int(zt.Month())
	}
	since := a.from(r)
	switch {
	case since.IsZero() && a.kind == wakeDaysSinceCovered:
		return -1
	case since.IsZero():
		return 0
	}
	return daysBetween(since, t)
}

// daysReach is the earliest instant at which the whole 24-hour periods
// from u (rounded toward zero, as daysBetween does) are at least k.
func daysReach(u time.Time, k int) (time.Time, bool) {
	switch {
	case k > maxWakeDays:
		return time.Time{}, false
	case k >= 1:
		return u.Add(time.Duration(k) * wakeDay), true
	case k-1 < -maxWakeDays:
		return u.Add(math.MinInt64), true
	}
	return u.Add(time.Duration(k-1)*wakeDay + 1), true
}

// daysUntilReach is the earliest instant at which the whole 24-hour
// periods until u are at most m.
func daysUntilReach(u time.Time, m int) (time.Time, bool) {
	switch {
	case m < -maxWakeDays:
		return time.Time{}, false
	case m < 0:
		return u.Add(-time.Duration(m) * wakeDay), true
	case m+1 > maxWakeDays:
		return u.Add(math.MinInt64), true
	}
	return u.Add(-time.Duration(m+1)*wakeDay + 1), true
}

// startOfDay is the first instant whose day in zone is the date d (a
// date value) or later: midnight there, unless a clock change skips it.
func startOfDay(d time.Time, zone *time.Location) time.Time {
	if zone == nil {
		zone = time.UTC
	}
	c := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, zone)
	starts := func(t time.Time) bool { return !DateIn(t, zone).Before(d) }
	if starts(c) && !starts(c.Add(-1)) {
		return c
	}
	t, _ := firstInstant(c.Add(-48*time.Hour), c.Add(48*time.Hour), starts)
	return t
}

// firstInstant returns the earliest instant in (lo, hi] at which pred,
// false at lo and never false again once true, holds; hi and false when
// it does not hold at hi, so that a wake-up at hi is still early enough.
func firstInstant(lo, hi time.Time, pred func(time.Time) bool) (time.Time, bool) {
	if !pred(hi) {
		return hi, true
	}
	for hi.Sub(lo) > 1 {
		mid := lo.Add(hi.Sub(lo) / 2)
		if pred(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}
