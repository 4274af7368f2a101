package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// periodFlags are the --since and --until of the commands that read back
// what runs recorded (report, sizes, effects): --since a length before
// the period's end (90d, 26w) or a date, --until a date (the whole day)
// or a time.
type periodFlags struct {
	since time.Duration // before the end, when from is zero
	from  time.Time     // --since as a date
	until time.Time     // zero: the command's default end
}

func parsePeriodFlags(since, until string) (periodFlags, error) {
	var p periodFlags
	var err error
	if p.since, err = rules.ParseDuration(since); err != nil || p.since <= 0 {
		if p.from, err = rules.ParseTime(since); err != nil {
			return p, fmt.Errorf("--since %q: give a duration (90d, 26w) or a date (2024-04-01)", since)
		}
	}
	if until != "" {
		if p.until, err = rules.ParseTime(until); err != nil {
			return p, fmt.Errorf("--until: %v", err)
		}
		if _, err := time.Parse(time.DateOnly, strings.TrimSpace(until)); err == nil {
			p.until = p.until.Add(24*time.Hour - time.Microsecond) // the whole day
		}
	}
	if !p.from.IsZero() && !p.until.IsZero() && p.until.Before(p.from) {
		return p, fmt.Errorf("--until %s is before --since %s", until, since)
	}
	return p, nil
}

// span is the period's start and end: the end is --until, else end.
func (p periodFlags) span(end time.Time) (from, until time.Time) {
	until = p.until
	if until.IsZero() {
		until = end
	}
	from = p.from
	if from.IsZero() {
		from = until.Add(-p.since)
	}
	return from.UTC(), until.UTC()
}
