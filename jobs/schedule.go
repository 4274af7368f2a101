package jobs

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule gives the next slot strictly after a time. cron.Schedule
// satisfies it; tests can use any function of time.
type Schedule interface {
	Next(time.Time) time.Time
}

// ParseSchedule parses a standard five-field cron spec evaluated in the
// named IANA time zone. The zone is validated before cron sees anything,
// and a spec may not carry its own TZ= prefix: robfig/cron v3 panics on
// some malformed TZ= specs, and the zone belongs in its own field.
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
		s.Location = loc
	}
	return sched, nil
}

// parseCron parses spec, turning any panic inside the parser into an
// error: schedules come from untrusted rule files.
func parseCron(spec string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("invalid cron spec %q", spec)
		}
	}()
	s, err = cron.ParseStandard(spec)
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
