package rules_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/rules"
)

const zoneRules = `ruleset: z
%s
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - {name: gold, when: spend > 0}
      - {name: basic, fallback: true}
`

func TestTimezoneKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ line, name string }{
		{"", "UTC"}, {"timezone: UTC", "UTC"}, {"timezone: Asia/Shanghai", "Asia/Shanghai"}, {"timezone: America/New_York", "America/New_York"},
	} {
		rs := mustCompile(t, fmt.Sprintf(zoneRules, tc.line))
		if rs.Timezone != tc.name || rs.Zone().String() != tc.name {
			t.Errorf("%q: Timezone %q, zone %v; want %s", tc.line, rs.Timezone, rs.Zone(), tc.name)
		}
	}
	if got := (&rules.RuleSet{}).Zone(); got != time.UTC {
		t.Errorf("a rule set built by hand: zone %v, want UTC", got)
	}
}

func TestTimezoneErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ line, want string }{
		{"timezone: Asia/Shanghia", `test.yaml:2:11: timezone: unknown time zone "Asia/Shanghia" (use an IANA name such as Asia/Shanghai, America/New_York or UTC)` + "\n" +
			"   2 | timezone: Asia/Shanghia\n" +
			"     |           ^"},
		{"timezone: Local", `test.yaml:2:11: timezone: unknown time zone "Local" (use an IANA name`},
		{`timezone: ""`, `test.yaml:2:11: timezone: unknown time zone "" (use an IANA name`},
		{"timezone: [UTC]", `test.yaml:2:11: timezone: must be`},
	} {
		d := onlyError(t, compileErrors(t, fmt.Sprintf(zoneRules, tc.line)))
		if got := d.Error(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.line, got, tc.want)
		}
	}
}

// A rule set with date facts whose schedule is on another zone's clock
// than its calendar gets a warning, at schedule.timezone; the rule set's
// timezone is never taken from the schedule. Without date facts there is
// no warning, so that rule files from before the timezone key pass
// check --strict as they did.
func TestScheduleZoneWarning(t *testing.T) {
	t.Parallel()
	sched := `schedule: {cron: "0 2 * * *", timezone: Asia/Shanghai}`
	withDate := func(head string) string {
		src := strings.Replace(fmt.Sprintf(zoneRules, head), "  spend: number\n", "  spend: number\n  signed_up: date\n", 1)
		return strings.Replace(src, "when: spend > 0}", "when: spend > 0 && days_since(signed_up) > 0}", 1)
	}
	rs := mustCompile(t, withDate(sched))
	if rs.Timezone != "UTC" {
		t.Errorf("timezone %q, want UTC: it is not taken from the schedule", rs.Timezone)
	}
	if len(rs.Warnings) != 1 || !strings.HasPrefix(rs.Warnings[0].Error(),
		`test.yaml:2:41: warning: schedule.timezone: the schedule runs on Asia/Shanghai's clock, but the rule set counts the days of its date facts in UTC (add timezone: Asia/Shanghai at the top`) {
		t.Errorf("warnings: %v", rs.Warnings)
	}
	for _, src := range []string{
		withDate(sched + "\ntimezone: Asia/Shanghai"), withDate(sched + "\ntimezone: UTC"),
		withDate(`schedule: {cron: "0 2 * * *"}`), withDate(`schedule: {cron: "0 2 * * *", timezone: UTC}`),
		fmt.Sprintf(zoneRules, sched),
	} {
		if rs := mustCompile(t, src); len(rs.Warnings) != 0 {
			t.Errorf("%s: warnings %v, want none", src, rs.Warnings)
		}
	}
}

// Test cases read a date alone as the start of that day in the rule
// set's zone, and a time without an offset on its clock.
func TestTestCaseTimesInZone(t *testing.T) {
	t.Parallel()
	src := fmt.Sprintf(zoneRules, "timezone: %s") + `tests:
  - name: c
    as_of: %s
    facts: {spend: 1}
    previous: {tier: {segment: gold, since: %s}}
    expect: {segments: {tier: gold}}
`
	for _, tc := range []struct {
		zone, asOf, since   string
		wantAsOf, wantSince string
	}{
		{"UTC", "2024-07-01", "2024-06-01T02:00:00", "2024-07-01T00:00:00Z", "2024-06-01T02:00:00Z"},
		{"Asia/Shanghai", "2024-07-01", "2024-06-01T02:00:00", "2024-06-30T16:00:00Z", "2024-05-31T18:00:00Z"},
		{"America/New_York", "2024-03-10", "2024-11-03", "2024-03-10T05:00:00Z", "2024-11-03T04:00:00Z"},
		{"America/New_York", "2024-03-11", "2024-11-04", "2024-03-11T04:00:00Z", "2024-11-04T05:00:00Z"},
		{"Asia/Shanghai", "2024-07-01T02:00:00Z", "2024-06-01T02:00:00+02:00", "2024-07-01T02:00:00Z", "2024-06-01T00:00:00Z"},
	} {
		rs := mustCompile(t, fmt.Sprintf(src, tc.zone, tc.asOf, tc.since))
		tcase := rs.Tests[0]
		if got := tcase.AsOf.Format(time.RFC3339); got != tc.wantAsOf {
			t.Errorf("%s: as_of %s is %s, want %s", tc.zone, tc.asOf, got, tc.wantAsOf)
		}
		if got := tcase.Previous["tier"].Since.Format(time.RFC3339); got != tc.wantSince {
			t.Errorf("%s: since %s is %s, want %s", tc.zone, tc.since, got, tc.wantSince)
		}
	}
}

func TestCoerceDate(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	est := time.FixedZone("", -5*3600)
	tests := []struct {
		name    string
		zone    *time.Location
		v       any
		want    string // the day, or "" for an error
		wantErr string
	}{
		{"a date", nil, "2024-06-30", "2024-06-30", ""},
		{"bytes", nil, []byte("2024-02-29"), "2024-02-29", ""},
		{"spaces", nil, " 2024-06-30 ", "2024-06-30", ""},
		{"UTC midnight", nil, time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), "2024-06-30", ""},
		{"midnight on its own clock (a date cast under New York)", nil, time.Date(1997, 1, 1, 0, 0, 0, 0, est), "1997-01-01", ""},
		{"midnight in the rule set's zone", ny, time.Date(1997, 1, 1, 5, 0, 0, 0, time.UTC), "1997-01-01", ""},
		{"midnight in the zone across spring forward", ny, time.Date(2024, 3, 11, 4, 0, 0, 0, time.UTC), "2024-03-11", ""},
		{"text with midnight as written", nil, "2024-06-30T00:00:00+08:00", "2024-06-30", ""},
		{"PostgreSQL text of a New York midnight", ny, "1997-01-01 05:00:00+00", "1997-01-01", ""},
		{"SQLite text", nil, "2024-06-30 00:00:00", "2024-06-30", ""},
		{"a time of day", nil, time.Date(1997, 1, 1, 5, 0, 0, 0, time.UTC), "", `fact "d": 1997-01-01T05:00:00Z has a time of day (05:00:00 in UTC), but the fact is a date`},
		{"a time of day in text", ny, "2024-06-30T12:00:00Z", "", `has a time of day (08:00:00 in America/New_York)`},
		{"a day that does not exist", nil, "2024-02-30", "", `"2024-02-30" is not a date`},
		{"not a date", nil, "soon", "", `"soon" is not a date (write 2024-06-30)`},
		{"a number", nil, 20240630, "", `20240630 (int) is not a date`},
	}
	for _, tc := range tests {
		f := rules.Field{Name: "d", Type: rules.TypeDate, Zone: tc.zone}
		got, err := f.Coerce(tc.v)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		default:
			d, ok := got.(time.Time)
			if !ok || d.Location() != time.UTC || d.Format(time.DateOnly) != tc.want || !d.Equal(d.Truncate(24*time.Hour)) {
				t.Errorf("%s: %v (%T), want %s at 00:00 UTC", tc.name, got, got, tc.want)
			}
		}
	}
}
