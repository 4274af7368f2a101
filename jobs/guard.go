package jobs

import (
	"fmt"
	"strings"

	"github.com/tierflow/tierflow/engine"
)

// Guard limits what one apply may change, so that a broken upstream load
// (an empty or zeroed facts table) cannot reclassify everyone and fire a
// million win-back calls.
type Guard struct {
	// MaxMovedShare is the largest share of customers (0 to 1) that may
	// change segment in one run; 0 means no limit.
	MaxMovedShare float64
	// MaxActions is the most actions one run may queue; 0 means no limit.
	MaxActions int
	// MaxErrorRate is the largest share of customers (0 to 1) whose facts
	// may fail a rule before the run aborts; 0 means any error aborts.
	// A negative value means no limit.
	MaxErrorRate float64
	// AllowLarge lifts MaxMovedShare and MaxActions for one run.
	AllowLarge bool
}

// DefaultGuard is the guard used unless configured otherwise.
var DefaultGuard = Guard{MaxMovedShare: 0.2, MaxActions: 100000, MaxErrorRate: 0.01}

// GuardReport says whether a guard refuses a plan, and why.
type GuardReport struct {
	Blocked           bool     `json:"blocked"`
	ErrorRateExceeded bool     `json:"error_rate_exceeded"`
	Reasons           []string `json:"reasons,omitempty"`
}

func (g Guard) check(p *engine.Plan, initial bool) GuardReport {
	var r GuardReport
	if !g.AllowLarge {
		if g.MaxMovedShare > 0 && !initial && p.Customers > 0 {
			share := float64(p.Changed) / float64(p.Customers)
			if share > g.MaxMovedShare {
				r.Blocked = true
				r.Reasons = append(r.Reasons, fmt.Sprintf(
					"%d of %d customers (%.1f%%) would change segment, more than the limit of %.1f%%; check the facts source, then rerun with --allow-large-change if the change is intended",
					p.Changed, p.Customers, share*100, g.MaxMovedShare*100))
			}
		}
		if total := p.TotalActions(); g.MaxActions > 0 && total > g.MaxActions {
			r.Blocked = true
			r.Reasons = append(r.Reasons, fmt.Sprintf(
				"%d actions would be queued, more than the limit of %d; rerun with --allow-large-change if intended", total, g.MaxActions))
		}
	}
	if g.MaxErrorRate >= 0 && p.Customers > 0 && p.Errors > 0 {
		rate := float64(p.Errors) / float64(p.Customers)
		if rate > g.MaxErrorRate {
			r.Blocked, r.ErrorRateExceeded = true, true
			r.Reasons = append(r.Reasons, fmt.Sprintf(
				"%d of %d customers (%.2f%%) failed a rule, more than the limit of %.2f%%; see the error examples",
				p.Errors, p.Customers, rate*100, g.MaxErrorRate*100))
		}
	}
	return r
}

func joinReasons(rs []string) string { return strings.Join(rs, "; ") }
