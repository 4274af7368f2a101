package jobs

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule gives the next slot strictly after a time. cron.Schedule
// satisfies it; tests can use any function of time.
type Schedule interface {
	Next(time.Time) time.Time
}

// ParseSchedule parses a standard five-field cron spec (minute hour
// day-of-month month day-of-week), or one of the descriptors that stand
// for one (@hourly, @daily, @midnight, @weekly, @monthly, @yearly,
// @annually), evaluated in the named IANA time zone. The finest schedule
// is once a minute: @every is refused, as is any other descriptor. The
// zone is validated before cron sees anything, and a spec may not carry
// its own TZ= prefix: robfig/cron v3 panics on some malformed TZ= specs,
// and the zone belongs in its own field.
//
// Slots follow the zone's wall clock through daylight-saving changes
// (see wallClock): each wall-clock time fires once, and a time the clock
// skips fires as much later as the clock jumped.
func ParseSchedule(spec, timezone string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, errors.New("put the time zone in schedule.timezone, not in the cron spec")
	}
	if timezone == "" {
		timezone = "UTC"
	}
	loc, err := time.LoadLocation(timezone)
	if err != nil || strings.EqualFold(timezone, "local") {
		return nil, fmt.Errorf("unknown time zone %q (use an IANA name such as Asia/Shanghai or UTC)", timezone)
	}
	sched, err := parseCron(spec)
	if err != nil {
		return nil, err
	}
	if s, ok := sched.(*cron.SpecSchedule); ok {
		s.Location = time.UTC
	}
	return wallClock{inner: sched, loc: loc}, nil
}

// wallClock evaluates a cron schedule on the wall clock of loc. robfig/cron
// v3.0.1 evaluates in the zone itself, which skips a slot whose time the
// clock jumps over (02:30 on a spring-forward night: the day is lost) and
// fires twice for a time the clock repeats (01:30 on a fall-back night).
// wallClock runs the schedule on a clock without daylight saving (wall
// time written as UTC) and maps each wall time back into loc: a skipped
// time moves later by the size of the jump (02:30 becomes 03:30), and a
// repeated time fires at its first occurrence, once.
type wallClock struct {
	inner cron.Schedule
	loc   *time.Location
}

func (w wallClock) Next(t time.Time) time.Time {
	wall := asWall(t.In(w.loc))
	for i := 0; i < 4; i++ {
		nw := w.inner.Next(wall)
		if nw.IsZero() {
			return nw
		}
		n := time.Date(nw.Year(), nw.Month(), nw.Day(), nw.Hour(), nw.Minute(), nw.Second(), nw.Nanosecond(), w.loc)
		if got := asWall(n.In(w.loc)); !got.Equal(nw) {
			// nw falls in a gap the clock jumps over: run as much later
			// as the clock jumped (02:30 becomes 03:30).
			n = n.Add(nw.Sub(got))
		}
		if n.After(t) {
			return n
		}
		// The wall time repeats (fall back) and its first occurrence is
		// already past: it has fired; move on.
		wall = nw
	}
	return time.Time{}
}

// asWall writes t's wall-clock reading as a UTC time.
func asWall(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// descriptors are the named schedules a spec may be: each stands for a
// five-field spec.
var descriptors = map[string]bool{
	"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true,
	"@daily": true, "@midnight": true, "@hourly": true,
}

// secondsForTests makes parseCron accept a leading seconds field; see
// AllowSecondsForTests.
var secondsForTests atomic.Bool

// AllowSecondsForTests makes ParseSchedule, in this process from then on,
// also accept six fields whose first is the second ("*/3 * * * * *"), for
// end-to-end tests of serve that need slots seconds apart. tierflow serve
// calls it only when the environment sets TIERFLOW_TEST_SCHEDULE_SECONDS=1,
// and logs a warning when it does; nothing else calls it. It is not for
// production: slots, leases and starting deadlines are meant for a
// resolution of a minute.
func AllowSecondsForTests() { secondsForTests.Store(true) }

// secondsParser reads six fields, the first the second, or five.
var secondsParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseCron parses spec, turning any panic inside the parser into an
// error: schedules come from untrusted rule files.
func parseCron(spec string) (s cron.Schedule, err error) {
	if strings.HasPrefix(spec, "@") && !descriptors[strings.ToLower(strings.Fields(spec)[0])] {
		return nil, fmt.Errorf("cron spec %q is not allowed: a schedule is five cron fields or one of @hourly, @daily, @weekly, @monthly, @yearly; the finest schedule is once a minute", spec)
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("invalid cron spec %q", spec)
		}
	}()
	if secondsForTests.Load() {
		s, err = secondsParser.Parse(spec)
	} else {
		s, err = cron.ParseStandard(spec)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid cron spec %q: %v", spec, err)
	}
	return s, nil
}

// ValidateSchedule is ParseSchedule for rules.Options.ValidateSchedule.
func ValidateSchedule(spec, timezone string) error {
	_, err := ParseSchedule(spec, timezone)
	return err
}

// SlotAtOrBefore returns the latest slot of s at or before t, searching
// back at most window; ok is false when there is none in the window.
func SlotAtOrBefore(s Schedule, t time.Time, window time.Duration) (slot time.Time, ok bool) {
	from := t.Add(-window)
	for next := s.Next(from.Add(-time.Nanosecond)); !next.IsZero() && !next.After(t); next = s.Next(next) {
		slot, ok = next, true
	}
	return slot, ok
}
