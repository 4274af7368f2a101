package engine_test

import (
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// fuzzZones are the zones the property is tried in: no daylight saving,
// both hemispheres' daylight saving, offsets that are not whole hours,
// and the date line.
var fuzzZones = []string{"UTC", "Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Sydney",
	"Asia/Kolkata", "Asia/Kathmandu", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/St_Johns"}

// daysFromCivil is the day number of a proleptic Gregorian date (1970-01-01
// is 0), by Howard Hinnant's algorithm: arithmetic only, independent of
// the time package's durations.
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// For random dates, as-of instants and zones, days_since of a date fact
// equals the calendar difference between the as-of instant's day in the
// zone and the date, computed independently.
func FuzzDaysSinceDate(f *testing.F) {
	f.Add(int32(19905), int64(1719864000), uint8(1)) // 2024-07-01, 2024-07-01T20:00Z, Shanghai
	f.Add(int32(19791), int64(1710129600), uint8(2)) // 2024-03-09, 2024-03-11T04:00Z, New York
	f.Add(int32(20029), int64(1730696340), uint8(2)) // 2024-11-02, 2024-11-04T04:59Z, New York
	f.Add(int32(0), int64(0), uint8(7))
	f.Add(int32(-1000), int64(-86400*365), uint8(8))
	engines := map[uint8]*engine.Engine{}
	rsByZone := map[uint8]*rules.RuleSet{}
	for i, z := range fuzzZones {
		rs := compile(f, `
ruleset: fuzz
timezone: `+z+`
facts:
  d: date
segmentations:
  - name: s
    segments:
      - {name: a, fallback: true}
actions:
  - name: p
    when: "true"
    payload:
      days: =days_since(d)
      between: =days_between(d, date(as_of))
`)
		rsByZone[uint8(i)], engines[uint8(i)] = rs, engine.New(rs)
	}
	f.Fuzz(func(t *testing.T, dayNum int32, asOfUnix int64, zone uint8) {
		zone %= uint8(len(fuzzZones))
		asOfUnix %= 200 * 365 * 86400 // within two centuries of 1970
		d := time.Unix(int64(dayNum%73000)*86400, 0).UTC()
		asOf := time.Unix(asOfUnix, 0).UTC()
		loc, err := time.LoadLocation(fuzzZones[zone])
		if err != nil {
			t.Fatal(err)
		}
		ly, lm, ld := asOf.In(loc).Date()
		want := daysFromCivil(ly, int(lm), ld) - daysFromCivil(d.Year(), int(d.Month()), d.Day())

		rs := rsByZone[zone]
		row, err := rs.Facts.Row(map[string]any{"d": d.Format(time.DateOnly)})
		if err != nil {
			t.Fatal(err)
		}
		res := engines[zone].Evaluate(asOf, &engine.Customer{Key: "c", Facts: row})
		if len(res.Errors) > 0 || len(res.Actions) != 1 {
			t.Fatalf("errors %v, actions %v", res.Errors, res.Actions)
		}
		p := res.Actions[0].Payload
		if p["days"] != want || p["between"] != want {
			t.Errorf("date %s, as-of %s in %s: days_since %v, days_between %v, want %d",
				d.Format(time.DateOnly), asOf.Format(time.RFC3339), fuzzZones[zone], p["days"], p["between"], want)
		}
	})
}
