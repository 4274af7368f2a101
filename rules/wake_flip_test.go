package rules

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// wakeZones are zones with daylight saving at 02:00 (New York), none
// (Shanghai), a change at midnight (Santiago) and a half-hour one (Lord
// Howe).
func wakeZones(t *testing.T) []*time.Location {
	t.Helper()
	var out []*time.Location
	for _, name := range []string{"UTC", "America/New_York", "Asia/Shanghai", "America/Santiago", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, loc)
	}
	return out
}

// The closed forms reach uses agree with a search of the measure itself:
// the instant they give is the first at which the measure reaches the
// threshold, in every zone, on both sides of the as-of.
func TestWakeReachIsExact(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(16, 1))
	kinds := []wakeKind{wakeDays, wakeDaysUntil, wakeDateDays, wakeDateDaysUntil, wakeMonths, wakeMonthsUntil,
		wakeDateMonths, wakeDateMonthsUntil, wakeYear, wakeMonth, wakeDaysIn, wakeDaysSinceCovered}
	base := time.Date(2024, 3, 9, 5, 0, 0, 0, time.UTC)
	for _, zone := range wakeZones(t) {
		for range 400 {
			kind := kinds[r.IntN(len(kinds))]
			asOf := base.Add(time.Duration(r.Int64N(int64(900 * 24 * time.Hour))))
			u := asOf.Add(time.Duration(r.Int64N(int64(2000*24*time.Hour))) - 1000*24*time.Hour)
			if kind == wakeDateDays || kind == wakeDateDaysUntil || kind == wakeDateMonths || kind == wakeDateMonthsUntil {
				u = DateIn(u, time.UTC)
			}
			rec := &WakeRecorder{AsOf: asOf, Zone: zone, Since: []time.Time{u}, Covered: []time.Time{u}}
			a := &wakeAtom{kind: kind}
			dir := 1
			if kind.until() {
				dir = -1
			}
			n := a.value(rec, u, asOf)
			k := dir*n + 1 + r.IntN(40)
			if kind == wakeMonth {
				continue // a step, not a monotone measure: see TestWakeMonthSteps
			}
			got, ok := a.reach(rec, u, n, dir, k)
			want, _ := firstInstant(asOf, asOf.Add(maxWakeSpan), func(t time.Time) bool { return dir*a.value(rec, u, t) >= k })
			if !ok || !got.Equal(want) {
				t.Fatalf("kind %d in %s, u %s, as-of %s: measure %d reaches %d at %s (%v), a search says %s",
					kind, zone, u, asOf, n, dir*k, got, ok, want)
			}
		}
	}
}

// The month of the as-of changes at the first instant of the next month
// in the zone, and not before.
func TestWakeMonthSteps(t *testing.T) {
	t.Parallel()
	for _, zone := range wakeZones(t) {
		for d := 0; d < 800; d += 7 {
			asOf := time.Date(2024, 1, 1, 13, 0, 0, 0, time.UTC).AddDate(0, 0, d)
			rec := &WakeRecorder{AsOf: asOf, Zone: zone}
			a := &wakeAtom{kind: wakeMonth, op: "=="}
			got, ok := a.flip(rec, nil, nil, 3)
			m := a.value(rec, time.Time{}, asOf)
			if !ok || a.value(rec, time.Time{}, got) == m || a.value(rec, time.Time{}, got.Add(-1)) != m {
				t.Fatalf("%s at %s: month %d, next step %s (%v)", zone, asOf, m, got, ok)
			}
		}
	}
}

// startOfDay is the first instant of a day in the zone, also on days
// whose midnight a clock change skips.
func TestWakeStartOfDay(t *testing.T) {
	t.Parallel()
	for _, zone := range wakeZones(t) {
		for d := 0; d < 3*366; d++ {
			day := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d)
			s := startOfDay(day, zone)
			if !DateIn(s, zone).Equal(day) || DateIn(s.Add(-1), zone).Equal(day) {
				t.Fatalf("%s: day %s starts at %s (%s there), a nanosecond before is %s", zone, day.Format(time.DateOnly), s, s.In(zone), s.Add(-1).In(zone))
			}
		}
	}
}

func TestWakeThreshold(t *testing.T) {
	t.Parallel()
	cases := []struct {
		g0   int
		op   string
		c    float64
		k    int
		flip bool
	}{
		{10, ">", 90, 91, true}, {95, ">", 90, 0, false}, {90, ">", 90, 91, true}, {10, ">", 90.5, 91, true},
		{10, ">=", 90, 90, true}, {10, ">=", 89.5, 90, true}, {90, ">=", 90, 0, false},
		{10, "<", 30, 30, true}, {10, "<", 29.5, 30, true}, {30, "<", 30, 0, false},
		{10, "<=", 30, 31, true}, {31, "<=", 30, 0, false},
		{10, "==", 30, 30, true}, {30, "==", 30, 31, true}, {31, "==", 30, 0, false}, {10, "!=", 30, 30, true},
		{10, ">", nan(), 0, false}, {10, "<", 1e300, 0, false},
	}
	for _, tc := range cases {
		k, ok := threshold(tc.g0, tc.op, tc.c)
		if ok != tc.flip || (ok && k != tc.k) {
			t.Errorf("threshold(%d %s %v) = %d, %v; want %d, %v", tc.g0, tc.op, tc.c, k, ok, tc.k, tc.flip)
		}
	}
}

// thresholdInt, for integers, agrees with threshold.
func TestWakeThresholdInt(t *testing.T) {
	t.Parallel()
	for _, op := range []string{"<", "<=", ">", ">=", "==", "!="} {
		for g0 := -5; g0 <= 5; g0++ {
			for c := -5; c <= 5; c++ {
				k1, ok1 := thresholdInt(g0, op, c)
				k2, ok2 := threshold(g0, op, float64(c))
				if k1 != k2 || ok1 != ok2 {
					t.Errorf("%d %s %d: thresholdInt %d, %v; threshold %d, %v", g0, op, c, k1, ok1, k2, ok2)
				}
			}
		}
	}
}

func nan() float64 { var z float64; return z / z }

// TimeDependent tells the expressions that read the as-of from those
// that only take its zone, and slot programs restore the trees they
// instrument.
func TestWakeTimeDependent(t *testing.T) {
	t.Parallel()
	src := `
ruleset: td
timezone: Asia/Shanghai
facts:
  t: time
  d: date
  n: number
segmentations:
  - name: s
    segments:
      - {name: a, when: "days_since(t) > 3"}
      - {name: b, when: "days_between(d, t) > 3 && year(t) > 2000 && months_between(t, t) > 1"}
      - {name: c, when: "n > 1 || date(as_of) == d"}
      - {name: e, when: "days_in_previous(\"s\") > 1"}
      - {name: f, fallback: true}
`
	rs, err := Compile("td.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"a": true, "b": false, "c": true, "e": true}
	for _, seg := range rs.Segmentations[0].Segments {
		if seg.When == nil {
			continue
		}
		if got := seg.When.TimeDependent(); got != want[seg.Name] {
			t.Errorf("%s: %s: TimeDependent = %v", seg.Name, seg.When.Source, got)
		}
		if s := seg.When.Program.Node().String(); strings.Contains(s, "wake/") {
			t.Errorf("%s: the map program's tree keeps the instrumentation: %s", seg.Name, s)
		}
	}
}
