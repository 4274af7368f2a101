package jobs

import (
	"strings"
	"testing"
	"time"
)

func slots(t *testing.T, spec, zone string, from time.Time, n int) []time.Time {
	t.Helper()
	s, err := ParseSchedule(spec, zone)
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for x := from; len(out) < n; {
		x = s.Next(x)
		out = append(out, x)
	}
	return out
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestScheduleDaylightSaving checks slots across both transitions in
// America/New_York in 2024: on 10 March 02:00 jumps to 03:00, on
// 3 November 02:00 falls back to 01:00. Every local day gets exactly one
// slot: a skipped time fires just after the gap, a repeated time once.
func TestScheduleDaylightSaving(t *testing.T) {
	tests := []struct {
		name, spec string
		from       time.Time
		want       []string
	}{
		{"spring forward: 02:30 does not exist, fires at 03:30 EDT", "30 2 * * *", utc("2024-03-08T12:00:00Z"),
			[]string{"2024-03-09T07:30:00Z", "2024-03-10T07:30:00Z", "2024-03-11T06:30:00Z"}},
		{"fall back: 01:30 happens twice, fires once", "30 1 * * *", utc("2024-11-01T12:00:00Z"),
			[]string{"2024-11-02T05:30:00Z", "2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"}},
		{"fall back: 02:30 is not repeated, fires once in EST", "30 2 * * *", utc("2024-11-01T12:00:00Z"),
			[]string{"2024-11-02T06:30:00Z", "2024-11-03T07:30:00Z", "2024-11-04T07:30:00Z"}},
		{"hourly through the repeated hour: 01:00 once", "0 * * * *", utc("2024-11-03T04:30:00Z"),
			[]string{"2024-11-03T05:00:00Z", "2024-11-03T07:00:00Z", "2024-11-03T08:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slots(t, tt.spec, "America/New_York", tt.from, len(tt.want))
			for i, w := range tt.want {
				if !got[i].Equal(utc(w)) {
					t.Errorf("slot %d = %s, want %s", i, got[i].UTC().Format(time.RFC3339), w)
				}
			}
		})
	}
}

func TestScheduleZone(t *testing.T) {
	got := slots(t, "0 2 * * *", "Asia/Shanghai", utc("2024-07-01T00:00:00Z"), 2)
	if !got[0].Equal(utc("2024-07-01T18:00:00Z")) || !got[1].Equal(utc("2024-07-02T18:00:00Z")) {
		t.Fatalf("02:00 Asia/Shanghai slots = %v", got)
	}
	got = slots(t, "0 2 * * *", "", utc("2024-07-01T00:00:00Z"), 1)
	if !got[0].Equal(utc("2024-07-01T02:00:00Z")) {
		t.Fatalf("no zone means UTC: got %v", got)
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct{ spec, zone, want string }{
		{"0 2 * * *", "Mars/Olympus", "unknown time zone"},
		{"0 2 * * *", "Local", "unknown time zone"},
		{"TZ=UTC", "UTC", "put the time zone in schedule.timezone"},
		{"CRON_TZ=Asia/Shanghai 0 2 * * *", "", "put the time zone in schedule.timezone"},
		{"0 25 * * *", "UTC", "invalid cron spec"},
		{"0 2 * *", "UTC", "invalid cron spec"},
		{"", "UTC", "invalid cron spec"},
		{"@every 5m", "UTC", "is not allowed"},
		{"@every 1s", "UTC", "the finest schedule is once a minute"},
		{"@every 0s", "UTC", "is not allowed"},
		{"@every 1ms", "UTC", "is not allowed"},
		{"@reboot", "UTC", "is not allowed"},
		{"*/2 * * * * *", "UTC", "invalid cron spec"}, // seconds: only with AllowSecondsForTests
		{"@daily", "UTC", ""},
		{"@hourly", "Asia/Shanghai", ""},
		{"*/5 * * * *", "UTC", ""},
	}
	for _, tt := range tests {
		err := ValidateSchedule(tt.spec, tt.zone)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%q: unexpected error %v", tt.spec, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q in %q: error %v, want it to mention %q", tt.spec, tt.zone, err, tt.want)
		}
	}
}

func TestSlotAtOrBefore(t *testing.T) {
	s, _ := ParseSchedule("0 * * * *", "UTC")
	slot, ok := SlotAtOrBefore(s, utc("2024-07-01T10:20:00Z"), time.Hour)
	if !ok || !slot.Equal(utc("2024-07-01T10:00:00Z")) {
		t.Fatalf("got %v %v", slot, ok)
	}
	slot, ok = SlotAtOrBefore(s, utc("2024-07-01T10:00:00Z"), time.Hour)
	if !ok || !slot.Equal(utc("2024-07-01T10:00:00Z")) {
		t.Fatalf("a slot exactly at t counts: got %v %v", slot, ok)
	}
	if _, ok := SlotAtOrBefore(s, utc("2024-07-01T10:20:00Z"), 10*time.Minute); ok {
		t.Fatal("no slot within 10 minutes expected")
	}
}
