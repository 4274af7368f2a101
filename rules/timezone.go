package rules

import (
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// timezoneHint says what a time zone is, once.
const timezoneHint = "use an IANA name such as Asia/Shanghai, America/New_York or UTC"

// timezone decodes the top-level timezone key, the zone of the rule set's
// calendar: UTC when it is left out. It is not taken from
// schedule.timezone, which says when serve runs the rule set: changing
// when a rule set runs must not change how it counts days (see
// scheduleZoneWarning).
func (l *loader) timezone(n *yaml.Node) (string, *time.Location) {
	if n == nil {
		return "UTC", time.UTC
	}
	s, ok := l.scalar(n, "timezone")
	if !ok {
		return "UTC", time.UTC
	}
	name := strings.TrimSpace(s)
	loc, err := LoadZone(name)
	if err != nil {
		l.errorf(n, "timezone", timezoneHint, "%v", err)
		return "UTC", time.UTC
	}
	return name, loc
}

// scheduleZoneWarning warns about a rule set with date facts and no
// timezone key whose schedule runs on another zone's clock than UTC's,
// its calendar: its days are probably the schedule zone's. (Without date
// facts the calendar is only in date(), year() and month(), and the
// warning would fail check --strict of every rule file written before
// the timezone key existed.)
func (l *loader) scheduleZoneWarning(rs *RuleSet, tzNode, schedNode *yaml.Node) {
	sched := rs.Schedule
	if tzNode != nil || !rs.Facts.hasDates() || sched == nil || schedNode == nil || sched.Timezone == "" || strings.EqualFold(sched.Timezone, "UTC") {
		return
	}
	at := schedNode
	if m := mappingValues(schedNode); m["timezone"] != nil {
		at = m["timezone"]
	}
	if _, err := LoadZone(sched.Timezone); err != nil {
		return // reported as the schedule's error
	}
	l.report(SeverityWarning, l.pos(at), "schedule.timezone",
		"add timezone: "+sched.Timezone+" at the top of the rule file if its calendar days are "+sched.Timezone+"'s, or timezone: UTC to keep UTC's",
		"the schedule runs on %s's clock, but the rule set counts the days of its date facts in UTC", sched.Timezone)
}

// mappingValues returns a mapping node's values by key, without
// reporting anything; nil for another kind of node.
func mappingValues(n *yaml.Node) map[string]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = n.Content[i+1]
	}
	return out
}

// instant decodes a time of a test case (as_of, since, at): a date alone
// is the start of that day in the rule set's zone, and a date-time
// without an offset is read on the zone's clock (see ParseTimeIn).
func (l *loader) instant(n *yaml.Node, field string, rs *RuleSet) time.Time {
	s, ok := l.scalar(n, field)
	if !ok {
		return time.Time{}
	}
	t, err := ParseTimeIn(s, rs.Zone())
	if err != nil {
		l.errorf(n, field, "", "%v", err)
	}
	return t
}
