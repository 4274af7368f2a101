package rules_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// A schedule error points at what to change: the cron spec for a TZ=
// prefix in it, the timezone for an unknown zone, and says so once.
func TestScheduleErrorPositions(t *testing.T) {
	t.Parallel()
	// validate stands for jobs.ParseSchedule's checks of the two fields.
	validate := func(cron, tz string) error {
		if strings.HasPrefix(cron, "TZ=") {
			return errors.New("put the time zone in schedule.timezone, not in the cron spec")
		}
		if tz == "Asia/Shanghia" {
			return fmt.Errorf("unknown time zone %q (use an IANA name such as Asia/Shanghai or UTC)", tz)
		}
		return nil
	}
	const file = `ruleset: s
schedule:
  cron: "%s"
  timezone: %s
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: key
        when: spend > 10
      - name: regular
        fallback: true
`
	tests := []struct {
		cron, tz, want string
	}{
		{"TZ=Asia/Shanghai 0 2 * * *", "Asia/Shanghai",
			"s.yaml:3:9: schedule.cron: put the time zone in schedule.timezone, not in the cron spec (remove the TZ=... prefix from cron and write timezone: Asia/Shanghai beside it)"},
		{"0 2 * * *", "Asia/Shanghia",
			`s.yaml:4:13: schedule.timezone: unknown time zone "Asia/Shanghia" (use an IANA name such as Asia/Shanghai or UTC)` + "\n"},
	}
	for _, tt := range tests {
		_, err := rules.Compile("s.yaml", fmt.Appendf(nil, file, tt.cron, tt.tz), rules.Options{ValidateSchedule: validate})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("cron %q, timezone %s:\ngot  %v\nwant %s", tt.cron, tt.tz, err, tt.want)
		}
	}
}
