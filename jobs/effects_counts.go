package jobs

import (
	"context"
	"fmt"
	"time"
)

// EffectCounter is implemented by state stores that count an effects
// report's observations where the rows are, so that a year of decisions
// and moves comes back as a few hundred groups instead of millions of
// rows. Effects uses it, with the cost per class from the queue's counts
// (ReportSource), instead of merging the streams of EffectsSource.
//
// The counts must say what EffectsSource's streams say: per action of
// q.Actions and customer, its first decision of the action (by as-of,
// then id) among those Decisions would pass with As-of in [q.From,
// q.Until]; at each horizon h of q.Horizons whose day At+h is not after
// q.Latest, the customer's segment in each of q.Segmentations is where
// the last move (by as-of, then id) after At and not after At+h put it,
// or where the decision's segments had it.
type EffectCounter interface {
	// EffectCounts calls fn once per group of observations, in the
	// store's order: first the groups of first decisions (Segmentation
	// ""), then the groups of moves.
	EffectCounts(ctx context.Context, q EffectCountsQuery, fn func(*EffectCount) error) error
}

// EffectCountsQuery selects what EffectCounts counts.
type EffectCountsQuery struct {
	RuleSet string
	// Actions names the actions compared: those with a holdout.
	Actions []string
	// From and Until bound the first decisions (their as-of), both
	// included; Latest is the last day a horizon may end on.
	From, Until, Latest time.Time
	// Horizons are days after a first decision, ascending.
	Horizons []int
	// Segmentations names the segmentations, in the order of
	// EffectCount.Segments.
	Segmentations []string
}

// EffectCount is one group of observations of an action: customers whose
// first decision was in one group (HeldOut) while they were in Segments.
type EffectCount struct {
	Action  string
	HeldOut bool
	// Segments is the customers' segment per segmentation of the query,
	// in its order, as the first decision recorded it ("": none).
	Segments []string
	// Segmentation is "" for a group of first decisions: Observed[h]
	// counts those whose horizon h has passed, and Spent[h] their
	// customers' treated decisions of the action from day 0 through day
	// h (zero when HeldOut).
	//
	// Otherwise it names a segmentation, and Observed[h] counts the
	// first decisions whose horizon h has passed and whose customer's
	// last move in Segmentation after day 0 and by day h went to To;
	// Spent is zero.
	Segmentation string
	To           string
	Observed     []int64
	Spent        []int64
}

// countQuery is the EffectCountsQuery of the run for the actions named.
func (r *effectsRun) countQuery(actions []string) EffectCountsQuery {
	q := EffectCountsQuery{RuleSet: r.rs.Name, Actions: actions, From: r.opts.From, Until: r.opts.Until,
		Latest: r.opts.Latest, Horizons: r.horizons}
	for _, s := range r.rs.Segmentations {
		q.Segmentations = append(q.Segmentations, s.Name)
	}
	return q
}

// addEffectCount adds one group of observations to the cells. A group
// of first decisions counts its customers as having stayed where they
// were (and churned if they were in the churn segment); a group of moves
// then corrects that for the customers the moves took elsewhere, in its
// segmentation and, for the churn segmentation, in the churn count of
// every segmentation.
func (r *effectsRun) addEffectCount(c *EffectCount) error {
	a, ok := r.action[c.Action]
	if !ok || r.rs.Actions[a].Holdout.BasisPoints <= 0 {
		return nil
	}
	if len(c.Segments) != len(r.rs.Segmentations) || len(c.Observed) != len(r.horizons) ||
		c.Segmentation == "" && len(c.Spent) != len(r.horizons) {
		return fmt.Errorf("a count of %s has %d segments and %d horizons; want %d and %d", c.Action, len(c.Segments),
			len(c.Observed), len(r.rs.Segmentations), len(r.horizons))
	}
	g := treated
	if c.HeldOut {
		g = heldOut
	}
	for s, seg := range r.rs.Segmentations {
		r.xs[s] = seg.SegmentIndex(c.Segments[s])
	}
	if c.Segmentation == "" {
		r.addFirsts(a, g, c)
		return nil
	}
	s, ok := r.seg[c.Segmentation]
	if !ok {
		return nil
	}
	r.addMoves(a, g, s, c)
	return nil
}

// addFirsts adds a group of first decisions as if nobody moved.
func (r *effectsRun) addFirsts(a, g int, c *EffectCount) {
	churned := r.churnSeg >= 0 && c.Segments[r.churnSeg] == r.churn
	for h, n := range c.Observed {
		if n == 0 {
			continue
		}
		for s, k := range r.xs {
			if k < 0 {
				continue
			}
			cl := &r.cells[r.index(cellKey{a, s, k, h}, len(r.horizons))]
			cl.n[g] += int(n)
			cl.stayed[g] += int(n)
			cl.churned[g] += int(n) * b2i(churned)
			if g == treated {
				cl.decisions += int(c.Spent[h])
			}
		}
	}
}

// addMoves corrects the cells for a group of customers whose last move
// in segmentation s by each horizon went to c.To.
func (r *effectsRun) addMoves(a, g, s int, c *EffectCount) {
	y, k := r.rs.Segmentations[s].SegmentIndex(c.To), r.xs[s]
	churn := 0
	if s == r.churnSeg {
		churn = b2i(c.To == r.churn) - b2i(c.Segments[s] == r.churn)
	}
	for h, n := range c.Observed {
		if n == 0 {
			continue
		}
		if k >= 0 {
			cl := &r.cells[r.index(cellKey{a, s, k, h}, len(r.horizons))]
			cl.stayed[g] -= int(n) * b2i(y != k)
			cl.movedUp[g] += int(n) * b2i(y >= 0 && y < k)
		}
		if churn == 0 {
			continue
		}
		for s2, k2 := range r.xs {
			if k2 >= 0 {
				r.cells[r.index(cellKey{a, s2, k2, h}, len(r.horizons))].churned[g] += churn * int(n)
			}
		}
	}
}
