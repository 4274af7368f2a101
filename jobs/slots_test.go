package jobs

import (
	"slices"
	"testing"
	"time"
)

// TestPlanSlots: what a scheduler does next, from the recorded slots and
// the time, on an every-minute schedule with a 10-minute deadline.
func TestPlanSlots(t *testing.T) {
	sched, err := ParseSchedule("* * * * *", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	t0 := utc("2024-07-01T00:00:00Z")
	m := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	claim := func(slot int, until time.Time) OpenSlot {
		return OpenSlot{Slot: m(slot), Owner: "other", LeaseUntil: until}
	}
	tests := []struct {
		name    string
		now     time.Time
		last    int // -1: no slot recorded
		open    []OpenSlot
		missed  []time.Time
		next    time.Time
		waitFor time.Time
	}{
		{"first start runs the latest slot only", m(3).Add(5 * time.Second), -1, nil, nil, m(3), time.Time{}},
		{"nothing due", m(3).Add(5 * time.Second), 3, nil, nil, time.Time{}, time.Time{}},
		{"every slot within the deadline runs, oldest first", m(5), 2, nil, nil, m(3), time.Time{}},
		{"slots past the deadline are missed", m(15), 2, nil, []time.Time{m(3), m(4)}, m(5), time.Time{}},
		{"a lapsed claim runs before newer slots", m(4), 3, []OpenSlot{claim(2, m(3))}, nil, m(2), time.Time{}},
		{"a lapsed claim past the deadline is missed", m(14), 13, []OpenSlot{claim(2, m(3))}, []time.Time{m(2)}, m(14), time.Time{}},
		{"a slot waits for an earlier live claim", m(4), 3, []OpenSlot{claim(3, m(4).Add(time.Second))}, nil, m(4), m(4).Add(time.Second)},
		{"a live claim of the latest slot leaves nothing to do", m(3).Add(time.Second), 3, []OpenSlot{claim(3, m(4))}, nil, time.Time{}, time.Time{}},
		{"a lease that ends now has lapsed", m(4), 3, []OpenSlot{claim(3, m(4))}, nil, m(3), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planSlots(sched, tt.now, 10*time.Minute, m(tt.last), tt.last >= 0, tt.open)
			if !slices.EqualFunc(p.missed, tt.missed, time.Time.Equal) || !p.next.Equal(tt.next) || !p.waitFor.Equal(tt.waitFor) {
				t.Fatalf("plan = missed %v, next %v, wait for %v; want %v, %v, %v", p.missed, p.next, p.waitFor, tt.missed, tt.next, tt.waitFor)
			}
		})
	}
}

// TestSecondsForTests: six-field specs parse only once a test of serve
// allows them, and @every never does.
func TestSecondsForTests(t *testing.T) {
	defer secondsForTests.Store(false)
	AllowSecondsForTests()
	s, err := ParseSchedule("*/3 * * * * *", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	if next := s.Next(utc("2024-07-01T00:00:01Z")); !next.Equal(utc("2024-07-01T00:00:03Z")) {
		t.Fatalf("next = %s, want 00:00:03", next)
	}
	if err := ValidateSchedule("0 2 * * *", "UTC"); err != nil {
		t.Fatalf("five fields still parse: %v", err)
	}
	if err := ValidateSchedule("@every 3s", "UTC"); err == nil {
		t.Fatal("@every is allowed with seconds")
	}
}
