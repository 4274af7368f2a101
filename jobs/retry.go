package jobs

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// RetryPolicy decides what becomes of an action whose delivery failed:
// retried later with exponential backoff and jitter, or dead. A zero
// field takes its default (see DefaultRetryPolicy).
type RetryPolicy struct {
	// Base is the wait after the first failed attempt; default 30s.
	Base time.Duration
	// Max caps every wait; default 1h.
	Max time.Duration
	// Factor multiplies the wait after each failed attempt; default (and
	// for any Factor below 1) 2.
	Factor float64
	// Jitter is the share of each wait that is random: the wait is
	// d*(1-Jitter*r) for r uniform in [0,1), so 1 is full jitter (any
	// wait up to d) and 0.2 a wait between 80% and 100% of d. Default
	// 0.2; a negative Jitter means none.
	Jitter float64
	// MaxAttempts is how many attempts an action gets: a failure of
	// attempt MaxAttempts makes it dead. Default 10; negative means no
	// limit.
	MaxAttempts int
	// MaxAge is how long after its first attempt (Delivery.FirstAttempt)
	// an action is still retried: a failure past it makes the action
	// dead. Default 72h; negative means no limit.
	MaxAge time.Duration
}

// DefaultRetryPolicy is the policy a zero RetryPolicy stands for.
var DefaultRetryPolicy = RetryPolicy{
	Base:        30 * time.Second,
	Max:         time.Hour,
	Factor:      2,
	Jitter:      0.2,
	MaxAttempts: 10,
	MaxAge:      72 * time.Hour,
}

// withDefaults fills the zero fields of p from DefaultRetryPolicy.
func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.Base <= 0 {
		p.Base = d.Base
	}
	if p.Max <= 0 {
		p.Max = d.Max
	}
	if p.Factor < 1 {
		p.Factor = d.Factor
	}
	if p.Jitter == 0 {
		p.Jitter = d.Jitter
	}
	p.Jitter = min(p.Jitter, 1)
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MaxAge == 0 {
		p.MaxAge = d.MaxAge
	}
	return p
}

// Next is the wait after failed attempt number attempt (from 1):
// Base*Factor^(attempt-1), capped at Max, less its random share as
// Jitter says. rnd returns numbers in [0,1) (math/rand/v2's Float64 or
// a seeded *rand.Rand's); the wait depends on nothing else, so a seeded
// source gives the same waits every time. A nil rnd means no jitter.
func (p RetryPolicy) Next(attempt int, rnd func() float64) time.Duration {
	p = p.withDefaults()
	attempt = max(attempt, 1)
	d := float64(p.Base) * math.Pow(p.Factor, float64(attempt-1))
	d = min(d, float64(p.Max)) // also catches +Inf
	if p.Jitter > 0 && rnd != nil {
		r := min(max(rnd(), 0), 1)
		d *= 1 - p.Jitter*r
	}
	return time.Duration(d)
}

// decide is what Finish records after an attempt that ended in out at
// now: ActionDone, ActionDead, or ActionPending with the time to try
// again (the backoff, or the destination's Retry-After when longer).
func (p RetryPolicy) decide(d *Delivery, out DeliveryOutcome, now time.Time, rnd func() float64) (status string, next time.Time) {
	if out.Err == nil {
		return ActionDone, time.Time{}
	}
	p = p.withDefaults()
	switch {
	case out.Permanent:
		return ActionDead, time.Time{}
	case p.MaxAttempts > 0 && d.Attempt >= p.MaxAttempts:
		return ActionDead, time.Time{}
	case p.MaxAge > 0 && !d.FirstAttempt.IsZero() && now.Sub(d.FirstAttempt) > p.MaxAge:
		return ActionDead, time.Time{}
	}
	wait := max(p.Next(d.Attempt, rnd), out.RetryAfter)
	return ActionPending, now.Add(wait)
}

// excerpt cuts s to at most n bytes of valid UTF-8, never in the middle
// of a character; invalid bytes become U+FFFD first.
func excerpt(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
