package jobs

import (
	"time"

	"github.com/tierflow/tierflow/rules"
)

// The groups of a holdout comparison, as indexes of cell's counts.
const (
	treated = 0
	heldOut = 1
)

// effectsRun is one Effects call: the rule set, the options with their
// defaults, and the running totals.
type effectsRun struct {
	// costsFromCounts: the cost per class comes from the queue's counts
	// (addCostCount), not from the decisions read.
	costsFromCounts bool
	rs              *rules.RuleSet
	opts            EffectsOptions
	horizons        []int
	action          map[string]int // action name -> index in rs.Actions
	seg             map[string]int // segmentation name -> index
	churnSeg        int            // index of the churn segmentation; -1 for none
	churn           string         // the churn segment
	// cells holds the comparisons, and costs the treated decisions per
	// class, both at the places index gives, so that their order is the
	// report's.
	cells []cell
	costs []int
	// maxSegs is the most segments of any segmentation.
	maxSegs int
	// bySeg, first and xs are one customer's moves per segmentation, the
	// index of its first decision of each action (-1: none) and its
	// segment index per segmentation at a decision, reused from customer
	// to customer.
	bySeg [][]HistoryMove
	first []int
	xs    []int
}

// cellKey is one comparison: action, segmentation and segment (by
// index, the segment's rank - 1) at decision time, and horizon (index in
// horizons). A cost class has horizon 0.
type cellKey struct{ action, seg, segment, horizon int }

// index is k's place in cells (costs: with one horizon).
func (r *effectsRun) index(k cellKey, horizons int) int {
	return ((k.action*len(r.rs.Segmentations)+k.seg)*r.maxSegs+k.segment)*horizons + k.horizon
}

// key is the cellKey at place i of cells (costs: with one horizon).
func (r *effectsRun) key(i, horizons int) cellKey {
	var k cellKey
	i, k.horizon = i/horizons, i%horizons
	i, k.segment = i/r.maxSegs, i%r.maxSegs
	k.action, k.seg = i/len(r.rs.Segmentations), i%len(r.rs.Segmentations)
	return k
}

// cell counts one comparison's customers per group.
type cell struct {
	n, stayed, churned, movedUp [2]int
	// decisions counts the treated customers' treated decisions of the
	// action from the first through the horizon: what they cost.
	decisions int
}

// inPeriod reports whether a decision at t is in [From, Until].
func (r *effectsRun) inPeriod(t time.Time) bool {
	return !t.Before(r.opts.From) && !t.After(r.opts.Until)
}

// customer adds one customer's decisions and moves to the totals. Each
// treated decision in the period of an action with a cost counts toward
// its class's cost; the first decision in the period of each action with
// a holdout is the customer's one observation of that action.
func (r *effectsRun) customer(decs []ActionDecision, moves []HistoryMove) {
	r.splitMoves(moves)
	for i := range r.first {
		r.first[i] = -1
	}
	for j := range decs {
		d := &decs[j]
		a, ok := r.action[d.Action]
		if !ok || !r.inPeriod(d.At) {
			continue
		}
		act := r.rs.Actions[a]
		if act.Cost > 0 && d.Status != ActionHeldOut && !r.costsFromCounts {
			r.addCost(a, d)
		}
		if act.Holdout.BasisPoints > 0 && r.first[a] < 0 {
			r.first[a] = j
		}
	}
	for a, j := range r.first {
		if j >= 0 {
			r.observe(a, decs, j)
		}
	}
}

// splitMoves files a customer's moves by segmentation, in time order.
func (r *effectsRun) splitMoves(moves []HistoryMove) {
	for s := range r.bySeg {
		r.bySeg[s] = r.bySeg[s][:0]
	}
	for _, m := range moves {
		if s, ok := r.seg[m.Segmentation]; ok {
			r.bySeg[s] = append(r.bySeg[s], m)
		}
	}
}

// addCost counts treated decision d of action a in its class in every
// segmentation where the customer had a segment the rules define.
func (r *effectsRun) addCost(a int, d *ActionDecision) {
	r.addCosts(a, d.Segments, 1)
}

func (r *effectsRun) addCosts(a int, segments map[string]string, n int) {
	for s, seg := range r.rs.Segmentations {
		if k := seg.SegmentIndex(segments[seg.Name]); k >= 0 {
			r.costs[r.index(cellKey{a, s, k, 0}, 1)] += n
		}
	}
}

// addCostCount counts a number of actions of one status and class, as
// the queue groups them, toward the cost of their class when they were
// treated decisions: queued, not held out, suppressed or cancelled.
func (r *effectsRun) addCostCount(c *ActionCount) error {
	a, ok := r.action[c.Action]
	if !ok || r.rs.Actions[a].Cost <= 0 {
		return nil
	}
	switch c.Status {
	case ActionHeldOut, ActionSuppressed, ActionCancelled:
		return nil
	}
	r.addCosts(a, c.Segments, int(c.Count))
	return nil
}

// hasCosts reports whether some action has a cost.
func (r *effectsRun) hasCosts() bool {
	for _, a := range r.rs.Actions {
		if a.Cost > 0 {
			return true
		}
	}
	return false
}

// observe adds the customer's first decision decs[j] of action a to the
// comparisons of every horizon that has passed by Latest.
func (r *effectsRun) observe(a int, decs []ActionDecision, j int) {
	d := &decs[j]
	g := treated
	if d.Status == ActionHeldOut {
		g = heldOut
	}
	for s, seg := range r.rs.Segmentations {
		r.xs[s] = seg.SegmentIndex(d.Segments[seg.Name])
	}
	for h, days := range r.horizons {
		end := d.At.AddDate(0, 0, days)
		if end.After(r.opts.Latest) {
			break // horizons ascend
		}
		churned := r.churnSeg >= 0 && r.segmentAt(r.churnSeg, d, end) == r.churn
		spent := 0
		if g == treated {
			spent = countTreated(decs[j:], d.Action, end)
		}
		for s, seg := range r.rs.Segmentations {
			k := r.xs[s]
			if k < 0 {
				continue
			}
			y := seg.SegmentIndex(r.segmentAt(s, d, end))
			c := &r.cells[r.index(cellKey{a, s, k, h}, len(r.horizons))]
			c.n[g]++
			c.stayed[g] += b2i(y == k)
			c.movedUp[g] += b2i(y >= 0 && y < k)
			c.churned[g] += b2i(churned)
			c.decisions += spent
		}
	}
}

// segmentAt is the customer's segment in segmentation s at end: the
// segment of the last move after decision d and not after end, or the
// one d recorded when it has none. "" is no segment.
func (r *effectsRun) segmentAt(s int, d *ActionDecision, end time.Time) string {
	y := d.Segments[r.rs.Segmentations[s].Name]
	for _, m := range r.bySeg[s] {
		if m.At.After(end) {
			break
		}
		if m.At.After(d.At) {
			y = m.To
		}
	}
	return y
}

// countTreated counts the treated decisions of action among decs (in
// time order) up to end.
func countTreated(decs []ActionDecision, action string, end time.Time) int {
	n := 0
	for i := range decs {
		d := &decs[i]
		if d.At.After(end) {
			break
		}
		if d.Action == action && d.Status != ActionHeldOut {
			n++
		}
	}
	return n
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
