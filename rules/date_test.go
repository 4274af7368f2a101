package rules_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// dateFacts are the facts the date tests read, in a rule set whose
// timezone line is %s.
const dateFacts = `
ruleset: dates
%s
facts:
  d1: date?
  d2: date?
  t1: time?
  t2: time?
  s1: string?
segmentations:
  - name: tier
    segments:
      - {name: gold, when: d1 != nil && d2 != nil && t1 != nil && t2 != nil && s1 != nil}
      - {name: basic, fallback: true}
actions:
  - name: probe
    when: "true"
    cooldown: 1d
    payload:
      v: %s
`

// evalIn compiles expression as a payload value of a rule set in zone
// ("" for none) and evaluates it at the instant asOf, with the
// environment the engine gives: the as-of time in the zone and the as-of
// date.
func evalIn(t *testing.T, zone, expression string, asOf time.Time, facts map[string]any) (*rules.Expr, any, error) {
	t.Helper()
	tz := ""
	if zone != "" {
		tz = "timezone: " + zone
	}
	rs := mustCompile(t, fmt.Sprintf(dateFacts, tz, quoteYAML("="+expression)))
	env := map[string]any{rules.AsOfVar: asOf.In(rs.Zone()), rules.AsOfDateVar: rules.DateIn(asOf, rs.Zone())}
	for _, name := range rs.Facts.Names() {
		env[name] = nil
	}
	for k, v := range facts {
		env[k] = v
	}
	x := rs.Actions[0].Payload[0].Expr
	v, err := run(t, x, env)
	return x, v, err
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func instant(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// The date helpers count calendar days of the rule set's zone: the as-of
// date is the as-of instant's day there. Across the two daylight-saving
// changes of New York in 2024, in Shanghai (no daylight saving) and where
// the zone's day differs from UTC's at the as-of instant.
func TestDateHelpersAcrossZones(t *testing.T) {
	t.Parallel()
	type facts = map[string]any
	tests := []struct {
		name, zone, expr string
		asOf             string
		facts            facts
		want             any
	}{
		// 2024-07-01T20:00Z is 2024-07-02 04:00 in Shanghai, 16:00 on
		// 2024-07-01 in New York.
		{"east of UTC the as-of date is the next day", "Asia/Shanghai", "days_since(d1)", "2024-07-01T20:00:00Z", facts{"d1": day("2024-07-01")}, 1},
		{"in UTC it is the same day", "", "days_since(d1)", "2024-07-01T20:00:00Z", facts{"d1": day("2024-07-01")}, 0},
		{"explicit UTC", "UTC", "days_since(d1)", "2024-07-01T20:00:00Z", facts{"d1": day("2024-07-01")}, 0},
		{"west of UTC too", "America/New_York", "days_since(d1)", "2024-07-01T20:00:00Z", facts{"d1": day("2024-07-01")}, 0},
		{"date(as_of) in Shanghai", "Asia/Shanghai", `date(as_of) == date("2024-07-02")`, "2024-07-01T20:00:00Z", nil, true},
		{"date(as_of) in New York", "America/New_York", `date(as_of) == date("2024-07-01")`, "2024-07-01T20:00:00Z", nil, true},
		{"a future date counts back", "Asia/Shanghai", "days_since(d1)", "2024-07-01T20:00:00Z", facts{"d1": day("2024-07-05")}, -3},

		// New York springs forward on 2024-03-10: that day has 23 hours.
		// 2024-03-11T04:00Z is 00:00 EDT on 2024-03-11.
		{"spring forward: two calendar days", "America/New_York", "days_since(d1)", "2024-03-11T04:00:00Z", facts{"d1": day("2024-03-09")}, 2},
		{"spring forward: a time counts 24-hour periods", "America/New_York", "days_since(t1)", "2024-03-11T04:00:00Z", facts{"t1": instant("2024-03-09T05:00:00Z")}, 1},
		{"spring forward: the day of that time", "America/New_York", "days_since(date(t1))", "2024-03-11T04:00:00Z", facts{"t1": instant("2024-03-09T05:00:00Z")}, 2},
		{"spring forward: 23:30 EST is still the day before", "America/New_York", "days_since(d1)", "2024-03-10T04:30:00Z", facts{"d1": day("2024-03-09")}, 0},
		{"spring forward: the short day", "America/New_York", "days_between(d1, date(as_of))", "2024-03-11T03:59:00Z", facts{"d1": day("2024-03-10")}, 0},

		// New York falls back on 2024-11-03: that day has 25 hours.
		// 2024-11-04T05:00Z is 00:00 EST on 2024-11-04.
		{"fall back: two calendar days", "America/New_York", "days_since(d1)", "2024-11-04T05:00:00Z", facts{"d1": day("2024-11-02")}, 2},
		{"fall back: 23:30 EST is still the day before", "America/New_York", "days_since(d1)", "2024-11-04T04:30:00Z", facts{"d1": day("2024-11-02")}, 1},
		{"fall back: the long day", "America/New_York", "days_since(d1)", "2024-11-04T04:59:00Z", facts{"d1": day("2024-11-03")}, 0},
		{"fall back: a time counts 24-hour periods", "America/New_York", "days_since(t1)", "2024-11-04T05:00:00Z", facts{"t1": instant("2024-11-03T04:00:00Z")}, 1},

		// Months and calendar readings.
		{"months_since a date, Shanghai", "Asia/Shanghai", "months_since(d1)", "2024-02-01T20:00:00Z", facts{"d1": day("2024-01-02")}, 1},
		{"months_since a date, UTC", "", "months_since(d1)", "2024-02-01T20:00:00Z", facts{"d1": day("2024-01-02")}, 0},
		{"year of a time is the zone's", "Asia/Shanghai", "year(t1)", "2024-07-01T00:00:00Z", facts{"t1": instant("2023-12-31T20:00:00Z")}, 2024},
		{"year of a time, UTC", "", "year(t1)", "2024-07-01T00:00:00Z", facts{"t1": instant("2023-12-31T20:00:00Z")}, 2023},
		{"month of as_of is the zone's", "Asia/Shanghai", "month(as_of)", "2024-06-30T20:00:00Z", nil, 7},
		{"year of a date is its own", "America/New_York", "year(d1)", "2024-07-01T00:00:00Z", facts{"d1": day("2024-01-01")}, 2024},
		{"months between times in the zone", "Asia/Shanghai", "months_between(t1, t2)", "2024-07-01T00:00:00Z", facts{"t1": instant("2024-01-14T20:00:00Z"), "t2": instant("2024-02-15T00:00:00Z")}, 1},
		{"months between times in UTC", "", "months_between(t1, t2)", "2024-07-01T00:00:00Z", facts{"t1": instant("2024-01-14T20:00:00Z"), "t2": instant("2024-02-15T00:00:00Z")}, 1},
		{"months between times in UTC, short", "", "months_between(t1, t2)", "2024-07-01T00:00:00Z", facts{"t1": instant("2024-01-15T20:00:00Z"), "t2": instant("2024-02-15T00:00:00Z")}, 0},

		// A date meets a time: the time is its day in the zone.
		{"days_between a date and a time", "Asia/Shanghai", "days_between(d1, t1)", "2024-07-01T00:00:00Z", facts{"d1": day("2024-07-01"), "t1": instant("2024-07-01T20:00:00Z")}, 1},
		{"days_between a time and a date", "America/New_York", "days_between(t1, d1)", "2024-07-01T00:00:00Z", facts{"d1": day("2024-07-01"), "t1": instant("2024-07-01T02:00:00Z")}, 1},
		{"days_between two dates", "Asia/Shanghai", "days_between(d1, d2)", "2024-07-01T00:00:00Z", facts{"d1": day("2024-02-28"), "d2": day("2024-03-01")}, 2},
		{"days_between two times", "Asia/Shanghai", "days_between(t1, t2)", "2024-07-01T00:00:00Z", facts{"t1": instant("2024-07-01T20:00:00Z"), "t2": instant("2024-07-02T19:00:00Z")}, 0},
		{"date(t) is the zone's day", "Asia/Shanghai", `date(t1) == date("2024-07-02")`, "2024-07-01T00:00:00Z", facts{"t1": instant("2024-07-01T20:00:00Z")}, true},

		// Dates compare with dates.
		{"before", "", "d1 < d2", "2024-07-01T00:00:00Z", facts{"d1": day("2024-07-01"), "d2": day("2024-07-02")}, true},
		{"not after", "", "d1 > d2", "2024-07-01T00:00:00Z", facts{"d1": day("2024-07-01"), "d2": day("2024-07-02")}, false},
		{"on or before", "", "d1 <= d2 && d1 >= d2", "2024-07-01T00:00:00Z", facts{"d1": day("2024-07-01"), "d2": day("2024-07-01")}, true},
		{"equal", "", "d1 == d2", "2024-07-01T00:00:00Z", facts{"d1": day("2024-07-01"), "d2": day("2024-07-01")}, true},
		{"with a literal", "", `d1 >= date("2024-01-01")`, "2024-07-01T00:00:00Z", facts{"d1": day("2024-07-01")}, true},
		{"with the as-of date", "Asia/Shanghai", "d1 < date(as_of)", "2024-07-01T20:00:00Z", facts{"d1": day("2024-07-01")}, true},
		{"in a list", "", `d1 in [date("2024-07-01"), date("2024-12-25")]`, "2024-07-01T00:00:00Z", facts{"d1": day("2024-07-01")}, true},

		// What the checker can type stays a date.
		{"coalesce of dates", "Asia/Shanghai", "days_since(coalesce(d1, d2))", "2024-07-01T20:00:00Z", facts{"d2": day("2024-07-01")}, 1},
		{"?? of dates", "Asia/Shanghai", `days_since(d1 ?? date("2024-06-01"))`, "2024-07-01T20:00:00Z", nil, 31},
		{"let", "Asia/Shanghai", "let x = d1; days_since(x)", "2024-07-01T20:00:00Z", facts{"d1": day("2024-07-01")}, 1},
		{"a ternary", "Asia/Shanghai", "days_since(d1 != nil ? d1 : d2)", "2024-07-01T20:00:00Z", facts{"d2": day("2024-06-30")}, 2},
		{"a list of dates", "Asia/Shanghai", "days_since([d1, d2][1])", "2024-07-01T20:00:00Z", facts{"d1": day("2024-06-01"), "d2": day("2024-06-30")}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, got, err := evalIn(t, tc.zone, tc.expr, instant(tc.asOf), tc.facts)
			if err != nil {
				t.Fatalf("%s: %v", tc.expr, err)
			}
			if got != tc.want {
				t.Errorf("%s in %q at %s = %v (%T), want %v", tc.expr, tc.zone, tc.asOf, got, got, tc.want)
			}
		})
	}
}

// A payload whose value is a date writes the day; a time stays a time.
func TestPayloadDate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr string
		date bool
	}{{"d1", true}, {"date(as_of)", true}, {`d1 ?? date("2024-01-01")`, true}, {"t1", false}, {"as_of", false}, {"days_since(d1)", false}} {
		x, _, err := evalIn(t, "", tc.expr, instant("2024-07-01T00:00:00Z"), map[string]any{"d1": day("2024-06-30")})
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if x.Date != tc.date {
			t.Errorf("%s: Date = %v, want %v", tc.expr, x.Date, tc.date)
		}
	}
}

// A date is never compared with a time, and the date helpers must know
// which of the two they get.
func TestDateMixingErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ expr, want string }{
		{"d1 < t1", `invalid operation: < (mismatched types date and time) (a date is a day with no time of day`},
		{"d1 == as_of", `invalid operation: == (mismatched types date and time)`},
		{"as_of >= d1", `invalid operation: >= (mismatched types time and date)`},
		{"d1 - d2", `invalid operation: -`},
		{"d1 + 1", `invalid operation: +`},
		{"-d1", `invalid operation: -`},
		{"d1 > 5", `invalid operation: >`},
		{"abs(d1)", `invalid argument for abs`},
		{"d1 < s1", `invalid operation: <`},
		{`date("2024-02-30") < d1`, `date: "2024-02-30" is not a date (write the day as 2024-06-30)`},
		{`date(s1) < d1`, `date takes a date in quotes or a time`},
		{`days_since([d1, t1][0])`, `days_since: cannot tell whether this is a date or a time`},
		{`year(coalesce(d1, t1))`, `year: cannot tell whether this is a date or a time`},
		{`days_between(d1, [d1, t1][1])`, `days_between: cannot tell whether this is a date or a time`},
		{`d1.Year()`, `methods of values cannot be called`},
	}
	for _, tc := range tests {
		src := fmt.Sprintf(dateFacts, "", quoteYAML("="+tc.expr))
		if _, err := rules.Compile("test.yaml", []byte(src), rules.Options{}); err == nil {
			t.Errorf("%s: compiled; want an error", tc.expr)
			continue
		}
		d := onlyError(t, compileErrors(t, src))
		if got := d.Error(); !strings.Contains(got, tc.want) {
			t.Errorf("%s:\n got %s\nwant it to contain %q", tc.expr, got, tc.want)
		}
	}
}

// A rule set without date facts compiles what it always did: a value
// whose type is only known at run time is a time to the helpers.
func TestNoDatesNoNewErrors(t *testing.T) {
	t.Parallel()
	mustCompile(t, `
ruleset: times
facts:
  t1: time
segmentations:
  - name: tier
    segments:
      - {name: old, when: "days_since([t1][0]) > 30 && year([t1][0]) > 2000"}
      - {name: basic, fallback: true}
`)
}
