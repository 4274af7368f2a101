package jobs

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// Guard limits what one apply may change, so that a broken upstream load
// (an empty, truncated or zeroed facts table) cannot reclassify everyone
// and fire a million win-back calls, nor pass for a success while most
// customers keep stale segments.
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
	// MaxShrinkShare is the largest share (0 to 1) by which the number of
	// customers may fall against the last successful run of the rule set;
	// 0 means no limit. Whatever its value, a run with no customers is
	// refused when the last successful run had some. A rule set with no
	// successful run yet is not limited.
	MaxShrinkShare float64
	// AllowLarge lifts MaxMovedShare, MaxActions and MaxShrinkShare (and
	// the refusal of an empty source) for one run.
	AllowLarge bool
	// AllowFailedChecks lets an apply write although a data-quality check
	// declared on the facts or their sources failed (QualityReport), for
	// one run. Duplicate keys refused by a source are not a check: they
	// fail the run whatever this says.
	AllowFailedChecks bool
}

// DefaultGuard is the guard used unless configured otherwise.
var DefaultGuard = Guard{MaxMovedShare: 0.2, MaxActions: 100000, MaxErrorRate: 0.01, MaxShrinkShare: 0.25}

// GuardReport says whether a guard refuses a plan, and why.
type GuardReport struct {
	Blocked           bool     `json:"blocked"`
	ErrorRateExceeded bool     `json:"error_rate_exceeded"`
	Reasons           []string `json:"reasons,omitempty"`
	// PreviousRun is the last successful run the number of customers was
	// compared with; nil when the rule set has none (or the store keeps
	// no runs).
	PreviousRun *PreviousRun `json:"previous_run,omitempty"`
}

// check judges plan p; initial is true on the rule set's first run, and
// prev is its last successful run, or nil. The error rate's reason, when
// there is one, comes last.
func (g Guard) check(p *engine.Plan, initial bool, prev *PreviousRun, q *QualityReport) GuardReport {
	r := GuardReport{PreviousRun: prev}
	if q != nil && q.Failed && !g.AllowFailedChecks {
		r.Blocked = true
		for _, msg := range q.FailedChecks() {
			r.Reasons = append(r.Reasons, "data-quality check "+msg+"; rerun with --allow-failed-checks if the data is right")
		}
	}
	if !g.AllowLarge {
		if reason := g.shrunk(p.Customers-q.left(), prev); reason != "" {
			r.Blocked = true
			r.Reasons = append(r.Reasons, reason)
		}
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

// shrunk returns why a run of customers is refused against the previous
// successful run prev, or "" when it is not: the source returned no one
// when prev had customers, or fewer by more than MaxShrinkShare.
func (g Guard) shrunk(customers int, prev *PreviousRun) string {
	if prev == nil || prev.Customers <= 0 {
		return ""
	}
	n, was := int64(customers), prev.Customers
	if n == 0 {
		return fmt.Sprintf(
			"the facts source returned 0 customers; the last successful run (run %d) evaluated %s: check the source (an emptied or failed load?), then rerun with --allow-large-change if intended",
			prev.ID, grouped(was))
	}
	if g.MaxShrinkShare <= 0 || n >= was {
		return ""
	}
	drop := float64(was-n) / float64(was)
	if drop <= g.MaxShrinkShare {
		return ""
	}
	return fmt.Sprintf(
		"the facts source returned %s customers, %.1f%% fewer than the %s of the last successful run (run %d), more than the limit of %.1f%%: check the source (a partial load?), then rerun with --allow-large-change if intended",
		grouped(n), drop*100, grouped(was), prev.ID, g.MaxShrinkShare*100)
}

// previousRun reads the last successful run of rs from state when the
// store keeps runs (PopulationReader); nil when it does not, or when rs
// has none.
func previousRun(ctx context.Context, state StateStore, rs *rules.RuleSet) (*PreviousRun, error) {
	pr, ok := state.(PopulationReader)
	if !ok {
		return nil, nil
	}
	last, ok, err := pr.LastSucceeded(ctx, rs.Name)
	if err != nil {
		return nil, fmt.Errorf("read the last successful run of %s: %w", rs.Name, err)
	}
	if !ok {
		return nil, nil
	}
	return &last, nil
}

// grouped formats a count with thousands separators: 44,220.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func joinReasons(rs []string) string { return strings.Join(rs, "; ") }
