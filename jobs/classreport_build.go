package jobs

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// classBuilder collects a class report while the run record streams by:
// what it keeps grows with the runs and the classes, not the customers.
type classBuilder struct {
	rs    *rules.RuleSet
	opts  ClassReportOptions
	until time.Time // opts.Until, or noEnd
	order *classOrder
	rep   *ClassReport
	// lastTime is the latest start or as-of of the runs read.
	lastTime time.Time
	latest   latestApply
	period   map[moveKey]int
	churn    *churnTally // nil when the rule set declares no churn
	actions  *actionTally
}

// latestApply is the succeeded apply with the latest as-of read so far,
// and its moves.
type latestApply struct {
	seen  bool
	id    int64
	asOf  time.Time
	moves []MoveCell
}

// moveKey is one cell of a move matrix.
type moveKey struct {
	seg      int
	from, to string
}

func newClassBuilder(rs *rules.RuleSet, opts ClassReportOptions) (*classBuilder, error) {
	switch {
	case opts.Period < 0:
		return nil, fmt.Errorf("the churn period is %s; give a positive length", opts.Period)
	case opts.Period == 0:
		opts.Period = DefaultChurnPeriod
	}
	until := opts.Until
	if until.IsZero() {
		until = noEnd
	}
	if until.Before(opts.From) {
		return nil, fmt.Errorf("the period ends (%s) before it starts (%s)", until.Format(time.RFC3339), opts.From.Format(time.RFC3339))
	}
	order := newClassOrder(rs)
	b := &classBuilder{rs: rs, opts: opts, until: until, order: order, period: map[moveKey]int{},
		actions: &actionTally{order: order, counts: map[actionKey]int64{}}}
	b.rep = &ClassReport{FormatVersion: ClassReportFormatVersion, RuleSet: rs.Name, Label: rs.Label, From: opts.From, Until: opts.Until,
		Segmentations: reportSegmentations(rs), Runs: []ReportRun{}, Sizes: []SizePoint{}, Moves: []MoveCell{},
		Actions: []ActionClassCount{}, Coverage: []CoveragePoint{}}
	if c := rs.Churn; c != nil {
		s, i := rs.Segmentation(c.Segmentation)
		if s == nil || s.SegmentIndex(c.Segment) < 0 {
			return nil, fmt.Errorf("churn: %s is not a segment of the rule set", c)
		}
		b.churn = &churnTally{rs: rs, seg: i, segment: c.Segment, from: opts.From, until: until, length: opts.Period,
			periods: map[int]*churnPeriod{}}
	}
	return b, nil
}

// reportSegmentations lists rs's segmentations and segments in rank
// order.
func reportSegmentations(rs *rules.RuleSet) []ReportSegmentation {
	out := make([]ReportSegmentation, len(rs.Segmentations))
	for i, s := range rs.Segmentations {
		out[i] = ReportSegmentation{Name: s.Name, Label: s.Label, Segments: make([]ReportSegment, len(s.Segments))}
		for k, seg := range s.Segments {
			out[i].Segments[k] = ReportSegment{Name: seg.Name, Label: seg.Label, Rank: k + 1}
		}
	}
	return out
}

// errNilRun is a source passing no run.
var errNilRun = errors.New("the run record passed no run")

// run takes one run of the record: every run is listed; a succeeded
// apply's stored report adds its sizes, moves, coverage and churn.
func (b *classBuilder) run(r *RunRecord) error {
	if r == nil {
		return errNilRun
	}
	b.rep.Runs = append(b.rep.Runs, reportRun(r))
	for _, t := range []time.Time{r.Started, r.AsOf} {
		if t.After(b.lastTime) {
			b.lastTime = t
		}
	}
	rep := r.Report
	if r.Status != StatusSucceeded || rep == nil {
		return nil
	}
	b.sizes(r.ID, r.AsOf, rep)
	b.moves(r.ID, r.AsOf, rep)
	for _, c := range rep.Coverage {
		b.rep.Coverage = append(b.rep.Coverage, CoveragePoint{RunID: r.ID, AsOf: r.AsOf, CoverageReport: c})
	}
	if b.churn != nil {
		b.churn.add(r.AsOf, rep)
	}
	return nil
}

// reportRun is what the report lists of a run.
func reportRun(r *RunRecord) ReportRun {
	out := ReportRun{ID: r.ID, Kind: r.Kind, AsOf: r.AsOf, Status: r.Status, Started: r.Started, Customers: r.Customers,
		Changed: r.Changed, Actions: r.Actions, Errors: r.Errors, Error: r.Error}
	if !r.Finished.IsZero() {
		out.Seconds = r.Finished.Sub(r.Started).Seconds()
	}
	if rep := r.Report; rep != nil {
		if len(rep.Errors.ByRule) > 0 {
			out.ErrorsByRule = maps.Clone(rep.Errors.ByRule)
		}
		if g := rep.Guard; g.Blocked || g.ErrorRateExceeded {
			out.GuardReasons = slices.Clone(g.Reasons)
		}
	}
	return out
}

// sizes adds the class sizes after one apply.
func (b *classBuilder) sizes(id int64, asOf time.Time, rep *PlanReport) {
	for _, sr := range rep.Segmentations {
		if b.order.segmentation(sr.Name) < 0 {
			continue
		}
		for _, seg := range sr.Segments {
			if seg.Name != removedSegment {
				b.rep.Sizes = append(b.rep.Sizes, SizePoint{RunID: id, AsOf: asOf, Segmentation: sr.Name, Segment: seg.Name, Customers: seg.After})
			}
		}
	}
}

// moves adds one apply's moves to the period's matrix, and keeps them as
// the latest when its as-of is the latest yet (the later read on a tie).
func (b *classBuilder) moves(id int64, asOf time.Time, rep *PlanReport) {
	latest := !b.latest.seen || !asOf.Before(b.latest.asOf)
	if latest {
		b.latest = latestApply{seen: true, id: id, asOf: asOf}
	}
	for _, sr := range rep.Segmentations {
		i := b.order.segmentation(sr.Name)
		if i < 0 {
			continue
		}
		for _, m := range sr.Moves {
			b.period[moveKey{i, m.From, m.To}] += m.Count
			if latest {
				b.latest.moves = append(b.latest.moves, b.moveCell("latest", id, moveKey{i, m.From, m.To}, m.Count))
			}
		}
	}
}

func (b *classBuilder) moveCell(scope string, id int64, k moveKey, n int) MoveCell {
	return MoveCell{Scope: scope, RunID: id, Segmentation: b.rs.Segmentations[k.seg].Name, From: k.from, To: k.to, Count: n,
		Direction: b.order.direction(k.seg, k.from, k.to)}
}

// report finishes the report: the latest moves, then the period's, each
// in matrix order; sizes and coverage by as-of; churn and actions.
func (b *classBuilder) report() *ClassReport {
	rep := b.rep
	rep.Until = b.reportUntil()
	latest := b.latest.moves
	slices.SortStableFunc(latest, b.compareMoves)
	period := make([]MoveCell, 0, len(b.period))
	for k, n := range b.period {
		period = append(period, b.moveCell("period", 0, k, n))
	}
	slices.SortFunc(period, b.compareMoves)
	rep.Moves = append(append(rep.Moves, latest...), period...)
	slices.SortStableFunc(rep.Sizes, func(x, y SizePoint) int {
		return cmp.Or(x.AsOf.Compare(y.AsOf), cmp.Compare(x.RunID, y.RunID), b.compareClasses(x.Segmentation, x.Segment, y.Segmentation, y.Segment))
	})
	slices.SortStableFunc(rep.Coverage, func(x, y CoveragePoint) int {
		return cmp.Or(x.AsOf.Compare(y.AsOf), cmp.Compare(x.RunID, y.RunID))
	})
	if b.churn != nil {
		rep.Churn = b.churn.report(rep.Until)
	}
	rep.Actions = b.actions.list()
	return rep
}

// reportUntil is the end of the report's period: the one asked for, or
// the latest start or as-of of the runs read (the start of the period
// when none is later).
func (b *classBuilder) reportUntil() time.Time {
	if !b.rep.Until.IsZero() {
		return b.rep.Until
	}
	if b.lastTime.After(b.rep.From) {
		return b.lastTime
	}
	return b.rep.From
}

// compareClasses orders two segments of segmentations the rules define.
func (b *classBuilder) compareClasses(sa, a, sb, bb string) int {
	ia, ib := b.order.segmentation(sa), b.order.segmentation(sb)
	if ia != ib {
		return cmp.Compare(ia, ib)
	}
	return b.order.compareSegments(ia, a, bb)
}

// compareMoves orders the cells of one scope: by segmentation, from and
// to.
func (b *classBuilder) compareMoves(x, y MoveCell) int {
	i := b.order.segmentation(x.Segmentation)
	return cmp.Or(cmp.Compare(i, b.order.segmentation(y.Segmentation)),
		b.order.compareSegments(i, x.From, y.From), b.order.compareSegments(i, x.To, y.To))
}

// periodText says how long a period is: "30 days", or the duration.
func periodText(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}
