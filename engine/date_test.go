package engine_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/engine/ruletest"
	"github.com/tierflow/tierflow/rules"
)

// lifecycleIn is a rule set that sorts customers by the calendar days
// since their last order, in the zone its timezone line names.
const lifecycleIn = `
ruleset: lifecycle
%s
facts:
  last_order_date: date
  last_order_at: time
segmentations:
  - name: by_date
    segments:
      - {name: recent, when: days_since(last_order_date) <= 1}
      - {name: older, fallback: true}
  - name: by_time
    segments:
      - {name: recent, when: days_since(last_order_at) <= 1}
      - {name: older, fallback: true}
actions:
  - name: note
    when: "true"
    cooldown: 1d
    payload:
      day: =date(as_of)
      at: =as_of
      last: =last_order_date
`

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// Segments follow calendar days in the rule set's zone for a date fact,
// and 24-hour periods for a time fact, through New York's two
// daylight-saving changes of 2024, in Shanghai, and where the zone's day
// differs from UTC's at the as-of instant.
func TestDateSegmentsAcrossZones(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, zone, asOf     string
		lastDate, lastAt     string
		wantDate, wantTime   string
		wantDay, wantAtInUTC string
	}{
		{"Shanghai, 2024-07-02 at 04:00", "Asia/Shanghai", "2024-07-01T20:00:00Z", "2024-06-30", "2024-06-30T00:00:00Z", "older", "recent", "2024-07-02", "2024-07-02T04:00:00+08:00"},
		{"the same instant in UTC", "UTC", "2024-07-01T20:00:00Z", "2024-06-30", "2024-06-30T00:00:00Z", "recent", "recent", "2024-07-01", "2024-07-01T20:00:00Z"},
		{"New York, the day after spring forward", "America/New_York", "2024-03-11T04:00:00Z", "2024-03-10", "2024-03-09T05:00:00Z", "recent", "recent", "2024-03-11", "2024-03-11T00:00:00-04:00"},
		{"New York, two days after the day before spring forward", "America/New_York", "2024-03-11T04:00:00Z", "2024-03-09", "2024-03-09T05:00:00Z", "older", "recent", "2024-03-11", "2024-03-11T00:00:00-04:00"},
		{"New York, the day after fall back", "America/New_York", "2024-11-04T05:00:00Z", "2024-11-03", "2024-11-02T04:00:00Z", "recent", "older", "2024-11-04", "2024-11-04T00:00:00-05:00"},
		{"New York, late on the long day", "America/New_York", "2024-11-04T04:59:00Z", "2024-11-02", "2024-11-02T04:00:00Z", "recent", "older", "2024-11-03", "2024-11-03T23:59:00-05:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := compile(t, fmt.Sprintf(lifecycleIn, "timezone: "+tc.zone))
			c := customer(t, rs, "c1", in{facts: map[string]any{"last_order_date": tc.lastDate, "last_order_at": tc.lastAt}})
			res := engine.New(rs).Evaluate(utc(tc.asOf), c)
			if len(res.Errors) > 0 {
				t.Fatal(res.Errors)
			}
			if got := decision(t, rs, res, "by_date").Segment; got != tc.wantDate {
				t.Errorf("by_date: %s, want %s", got, tc.wantDate)
			}
			if got := decision(t, rs, res, "by_time").Segment; got != tc.wantTime {
				t.Errorf("by_time: %s, want %s", got, tc.wantTime)
			}
			p := res.Actions[0].Payload
			if p["day"] != tc.wantDay || p["last"] != tc.lastDate {
				t.Errorf("payload day %v, last %v: dates are written as the day", p["day"], p["last"])
			}
			if at, ok := p["at"].(time.Time); !ok || at.Format(time.RFC3339) != tc.wantAtInUTC {
				t.Errorf("payload at %v, want %s: the as-of time in the zone", p["at"], tc.wantAtInUTC)
			}
		})
	}
}

// The rule tests of testdata/dates.yaml pass with its timezone, and all
// but two fail in UTC: they test the zone.
func TestDateRuleTests(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("testdata/dates.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Compile("dates.yaml", src, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Warnings) > 0 {
		t.Errorf("warnings: %v", rs.Warnings)
	}
	rep := ruletest.Run(rs)
	for _, cr := range rep.Cases {
		if !cr.Passed() {
			t.Errorf("%s: %v", cr.Case.Name, cr.Failures)
		}
	}
	if rep.CoveragePercent() != 100 {
		t.Errorf("coverage %v%%, uncovered %v", rep.CoveragePercent(), rep.Uncovered())
	}
	inUTC := strings.Replace(string(src), "timezone: Asia/Shanghai\n", "timezone: UTC\n", 1)
	rs, err = rules.Compile("dates.yaml", []byte(inUTC), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Only these cases mean the same in both zones.
	same := map[string]bool{"ninety days after the last order is still active": true, "a login today, in Shanghai's day": true}
	for _, cr := range ruletest.Run(rs).Cases {
		if cr.Passed() != same[cr.Case.Name] {
			t.Errorf("in UTC, %q passed: %v", cr.Case.Name, cr.Passed())
		}
	}
}

// Dates add no allocation per customer: a rule set on date facts
// allocates no more than the same one on time facts.
func TestDateAllocations(t *testing.T) {
	const src = `
ruleset: allocs
timezone: Asia/Shanghai
facts:
  last: %s
segmentations:
  - name: lifecycle
    segments:
      - {name: active, when: "days_since(last) <= 90 && year(last) >= 2000 && months_since(last) < 12"}
      - {name: churned, fallback: true}
`
	allocs := map[string]float64{}
	for _, typ := range []string{"time", "date"} {
		rs := compile(t, fmt.Sprintf(src, typ))
		e := engine.New(rs)
		c := customer(t, rs, "c1", in{facts: map[string]any{"last": "2024-03-01"}})
		asOf := utc("2024-06-30T18:00:00Z")
		var res engine.Result
		e.EvaluateInto(asOf, c, &res)
		if got := decision(t, rs, &res, "lifecycle").Segment; got != "churned" {
			t.Fatalf("%s: %s, want churned (122 days)", typ, got)
		}
		allocs[typ] = testing.AllocsPerRun(200, func() { e.EvaluateInto(asOf, c, &res) })
	}
	if allocs["date"] > allocs["time"] {
		t.Errorf("a date rule set allocates %v per customer, a time one %v", allocs["date"], allocs["time"])
	}
}
