package rules

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// schedule decodes the optional schedule block:
//
//	schedule:
//	  cron: "0 2 * * *"
//	  timezone: Asia/Shanghai
func (l *loader) schedule(n *yaml.Node, validate func(cron, tz string) error) *Schedule {
	if n == nil {
		return nil
	}
	m := l.mapping(n, "schedule", "cron", "timezone")
	cronNode := l.required(m, n, "schedule", "cron", `e.g. cron: "0 2 * * *" for 02:00 every day`)
	tzNode := m["timezone"]
	s := &Schedule{Timezone: "UTC", Pos: l.pos(n)}
	if cronNode != nil {
		s.Cron = strings.TrimSpace(l.str(cronNode, "schedule.cron"))
		s.Pos = l.pos(cronNode)
	}
	if tzNode != nil {
		s.Timezone = strings.TrimSpace(l.str(tzNode, "schedule.timezone"))
	}
	if cronNode == nil || validate == nil || s.Cron == "" {
		return s
	}
	if err := validate(s.Cron, s.Timezone); err != nil {
		at, field, hint := cronNode, "schedule.cron", cronHint
		switch msg := err.Error(); {
		case strings.HasPrefix(msg, "unknown time zone"):
			// The message says what a time zone is.
			at, field, hint = tzNode, "schedule.timezone", ""
			if tzNode == nil {
				at = n
			}
		case strings.Contains(msg, "time zone"):
			// A TZ= or CRON_TZ= prefix in the cron spec.
			hint = `remove the TZ=... prefix from cron and write timezone: Asia/Shanghai beside it`
		}
		l.errorf(at, field, hint, "%v", err)
	}
	return s
}

// cronHint says what schedule.cron may be. Slots are at least a minute
// apart: @every and six-field (seconds) specs are refused.
const cronHint = `cron is five fields: minute hour day-of-month month day-of-week, e.g. "0 2 * * *" for 02:00 every day ` +
	`or "*/15 * * * *" for every 15 minutes`
