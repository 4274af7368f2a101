package jobs_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

func TestRetryPolicyNextWithoutJitter(t *testing.T) {
	p := jobs.RetryPolicy{Base: 30 * time.Second, Max: time.Hour, Factor: 2, Jitter: -1}
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 30 * time.Second}, // before the first: as the first
		{1, 30 * time.Second},
		{2, time.Minute},
		{3, 2 * time.Minute},
		{7, 32 * time.Minute},
		{8, time.Hour}, // 64m, capped
		{5000, time.Hour},
	}
	for _, tt := range tests {
		if got := p.Next(tt.attempt, rand.Float64); got != tt.want {
			t.Errorf("Next(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	var zero jobs.RetryPolicy
	if got, want := zero.Next(1, nil), 30*time.Second; got != want {
		t.Errorf("zero policy Next(1) = %v, want %v", got, want)
	}
	if got, want := zero.Next(3, nil), 2*time.Minute; got != want {
		t.Errorf("zero policy Next(3) = %v, want %v", got, want)
	}
	if got, want := zero.Next(100, nil), time.Hour; got != want {
		t.Errorf("zero policy Next(100) = %v, want %v", got, want)
	}
}

func TestRetryPolicyJitter(t *testing.T) {
	tests := []struct {
		name   string
		jitter float64
	}{
		{"proportional", 0.25},
		{"full", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := jobs.RetryPolicy{Base: time.Second, Max: time.Hour, Factor: 2, Jitter: tt.jitter}
			a := rand.New(rand.NewPCG(1, 2))
			b := rand.New(rand.NewPCG(1, 2))
			jittered := 0
			for attempt := 1; attempt <= 12; attempt++ {
				full := p.Next(attempt, nil)
				got := p.Next(attempt, a.Float64)
				if again := p.Next(attempt, b.Float64); again != got {
					t.Fatalf("attempt %d: %v then %v from the same seed", attempt, got, again)
				}
				lo := time.Duration(float64(full) * (1 - tt.jitter))
				if got < lo || got > full {
					t.Errorf("attempt %d: %v outside [%v, %v]", attempt, got, lo, full)
				}
				if got != full {
					jittered++
				}
			}
			if jittered == 0 {
				t.Errorf("jitter %v never shortened a wait", tt.jitter)
			}
		})
	}
}
