package engine_test

import (
	"fmt"
	"slices"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// savedState is the state a store saves from res, evaluated at asOf for
// c: the new segments with their since and pending-since dates, the
// actions queued or held out as last queued at asOf, the queued ones as
// contacts, and the same outcomes.
func savedState(rs *rules.RuleSet, c *engine.Customer, res *engine.Result, asOf time.Time) engine.State {
	st := engine.State{
		Segments:    make([]engine.Assignment, len(rs.Segmentations)),
		LastActions: make([]time.Time, len(rs.Actions)),
		Outcomes:    slices.Clone(c.State.Outcomes),
		Contacts:    slices.Clone(c.State.Contacts),
	}
	copy(st.LastActions, c.State.LastActions)
	for i, d := range res.Segments {
		if d.Segment != "" {
			st.Segments[i] = d.Assignment
		}
	}
	for _, q := range res.Actions {
		_, i := rs.Action(q.Name)
		st.LastActions[i] = asOf
		st.Contacts = append(st.Contacts, engine.Contact{Action: i, At: asOf})
	}
	for _, q := range res.Withheld {
		if q.Status == engine.HeldOut {
			_, i := rs.Action(q.Name)
			st.LastActions[i] = asOf
		}
	}
	return st
}

// change says how res, evaluated with the state st, is not a no-op, or
// "" when it is one: no move, no since or pending-since date changed, no
// action queued, held out or suppressed, no rule error, and the coverage
// states of cov (when not nil).
func change(rs *rules.RuleSet, st engine.State, res *engine.Result, cov []engine.CoverageState) string {
	for i, d := range res.Segments {
		prev := st.Segments[i]
		if d.Segment != prev.Segment || !d.Since.Equal(prev.Since) || !d.PendingSince.Equal(prev.PendingSince) {
			return fmt.Sprintf("%s: %q since %s pending %s -> %q since %s pending %s (%s)", rs.Segmentations[i].Name,
				prev.Segment, prev.Since, prev.PendingSince, d.Segment, d.Since, d.PendingSince, d.Reason)
		}
	}
	switch {
	case len(res.Actions) > 0:
		return "queues " + res.Actions[0].Name
	case len(res.Withheld) > 0:
		return "withholds " + res.Withheld[0].Name
	case len(res.Errors) > 0:
		return "fails: " + res.Errors[0].Error()
	case cov != nil && !slices.Equal(cov, res.Coverage):
		return fmt.Sprintf("coverage %v -> %v", cov, res.Coverage)
	}
	return ""
}

// wakeStats counts what checkWake saw.
type wakeStats struct {
	customers, never, everyRun, finite int
	// failing counts the customers with a rule error, who wake on every
	// run (many of the decoded facts are NaN or out of range).
	failing int
	// checked counts the evaluations before the wake-up found no-ops;
	// atWake and changedAtWake the evaluations at a finite wake-up, and
	// those that changed something (tightness).
	checked, atWake, changedAtWake int
}

func (s wakeStats) String() string {
	pct := func(n int) float64 { return 100 * float64(n) / float64(max(s.customers, 1)) }
	return fmt.Sprintf("%d customers: every run %.1f%% (%.1f%% with rule errors), never %.1f%%, finite %.1f%%; %d later evaluations were no-ops; %d of %d evaluations at the wake-up changed something",
		s.customers, pct(s.everyRun), pct(s.failing), pct(s.never), pct(s.finite), s.checked, s.changedAtWake, s.atWake)
}

func (s *wakeStats) add(o wakeStats) {
	s.customers += o.customers
	s.never += o.never
	s.everyRun += o.everyRun
	s.finite += o.finite
	s.failing += o.failing
	s.checked += o.checked
	s.atWake += o.atWake
	s.changedAtWake += o.changedAtWake
}

// wakeHorizon is how far past the as-of a customer that never wakes is
// checked.
const wakeHorizon = 3 * 366 * 24 * time.Hour

// checkWake evaluates c at asOf, then with the state saved from that at
// the instants later evaluate picks before the wake-up, and returns a
// failure message when one of them is not a no-op.
func checkWake(e *engine.Engine, c *engine.Customer, asOf time.Time, later func(from, to time.Time) []time.Time) (wakeStats, string) {
	rs := e.RuleSet()
	res := e.Evaluate(asOf, c)
	st := wakeStats{customers: 1}
	if len(res.Errors) > 0 {
		st.failing++
	}
	w := res.Wake
	switch {
	case w.IsZero():
		st.never++
	case !w.After(asOf):
		st.everyRun++
		return st, ""
	default:
		st.finite++
	}
	next := &engine.Customer{Key: c.Key, Facts: c.Facts, FactErrors: c.FactErrors, Absent: c.Absent, State: savedState(rs, c, res, asOf)}
	end := w
	if w.IsZero() {
		end = asOf.Add(wakeHorizon)
	}
	var cov []engine.CoverageState
	for _, t := range later(asOf, end) {
		got := e.Evaluate(t, next)
		if why := change(rs, next.State, got, cov); why != "" {
			return st, fmt.Sprintf("%s evaluated at %s wakes at %s (%s), but at %s with the saved state it %s",
				c.Key, asOf.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano), describe(res), t.Format(time.RFC3339Nano), why)
		}
		cov = slices.Clone(got.Coverage)
		st.checked++
	}
	if !w.IsZero() {
		st.atWake++
		if change(rs, next.State, e.Evaluate(w, next), cov) != "" {
			st.changedAtWake++
		}
	}
	return st, ""
}

func describe(res *engine.Result) string {
	var out []string
	for _, d := range res.Segments {
		out = append(out, fmt.Sprintf("%s<-%s (%s, matched %s)", d.Segment, d.Previous, d.Reason, d.Matched))
	}
	for _, q := range res.Actions {
		out = append(out, "queued "+q.Name)
	}
	for _, q := range res.Withheld {
		out = append(out, string(q.Status)+" "+q.Name)
	}
	return fmt.Sprint(out)
}
