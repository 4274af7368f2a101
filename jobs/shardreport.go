package jobs

import (
	"cmp"
	"slices"

	"github.com/tierflow/tierflow/engine"
)

// MergeShards is the report of a sharded run as a whole, from the reports
// of its shards (one each, of the same rules and as-of), which the last
// shard to commit stores on the parent run: what reads a rule set's
// latest run (tierflow coverage, the metrics' segment sizes and coverage
// gauges) then reads the whole run's figures. Counts are summed: the
// customers, moves and segment sizes, actions, errors, coverage (its
// share recomputed) and the incremental counts; samples and error
// examples are the shards' in shard order, as many as one report keeps.
// The data-quality section, whose checks judge each shard's facts, is
// left out, and the guard is the parent's own (its status and reason).
// It returns nil for no reports.
func MergeShards(reps []*PlanReport) *PlanReport {
	if len(reps) == 0 {
		return nil
	}
	first := reps[0]
	m := &PlanReport{
		FormatVersion: first.FormatVersion, Mode: first.Mode, Status: first.Status,
		RuleSet: first.RuleSet, RuleSetLabel: first.RuleSetLabel, RulesHash: first.RulesHash,
		AsOf: first.AsOf, Initial: first.Initial,
		Errors: ErrorReport{ByRule: map[string]int{}, Examples: []ErrorExample{}},
	}
	for _, r := range reps {
		m.Customers += r.Customers
		m.Changed += r.Changed
		m.ActionsTotal += r.ActionsTotal
		m.Segmentations = mergeSegmentations(m.Segmentations, r.Segmentations)
		m.Actions = mergeIndexed(m.Actions, r.Actions, func(a *ActionReport, b ActionReport) {
			a.Count, a.HeldOut, a.Suppressed = a.Count+b.Count, a.HeldOut+b.HeldOut, a.Suppressed+b.Suppressed
		})
		m.Errors.Customers += r.Errors.Customers
		for rule, n := range r.Errors.ByRule {
			m.Errors.ByRule[rule] += n
		}
		m.Errors.Examples = appendUpTo(m.Errors.Examples, r.Errors.Examples, engine.MaxErrorExamples)
		m.Samples = appendUpTo(m.Samples, r.Samples, engine.MaxSamples)
		m.Coverage = mergeIndexed(m.Coverage, r.Coverage, func(a *CoverageReport, b CoverageReport) {
			a.Due, a.Covered, a.Pending, a.Overdue = a.Due+b.Due, a.Covered+b.Covered, a.Pending+b.Pending, a.Overdue+b.Overdue
		})
		if r.Incremental != nil {
			if m.Incremental == nil {
				m.Incremental = &IncrementalReport{Enabled: r.Incremental.Enabled, Full: r.Incremental.Full}
			}
			m.Incremental.merge(r.Incremental)
		}
	}
	for i := range m.Coverage {
		c := &m.Coverage[i]
		c.Share = 0
		if c.Due > 0 {
			c.Share = float64(c.Covered) / float64(c.Due)
		}
	}
	if m.Samples == nil {
		m.Samples = []SampleReport{}
	}
	slices.SortStableFunc(m.Samples, func(a, b SampleReport) int { return cmp.Compare(a.Customer, b.Customer) })
	return m
}

// mergeIndexed adds the elements of b to those of a at the same index
// with add; the first report's list is copied.
func mergeIndexed[T any](a, b []T, add func(*T, T)) []T {
	if a == nil {
		return slices.Clone(b)
	}
	for i := range min(len(a), len(b)) {
		add(&a[i], b[i])
	}
	return a
}

// mergeSegmentations adds b's segment sizes and moves to a's, segment by
// segment and move by move, and orders the moves as a report does.
func mergeSegmentations(a, b []SegmentationReport) []SegmentationReport {
	if a == nil {
		out := make([]SegmentationReport, len(b))
		for i, s := range b {
			out[i] = s
			out[i].Segments = make([]SegmentReport, len(s.Segments))
			for k, seg := range s.Segments {
				out[i].Segments[k] = seg
				if seg.Churned != nil {
					n := *seg.Churned
					out[i].Segments[k].Churned = &n
				}
			}
			out[i].Moves = slices.Clone(s.Moves)
		}
		return out
	}
	for i := range min(len(a), len(b)) {
		s, o := &a[i], b[i]
		s.Moved += o.Moved
		for _, os := range o.Segments {
			k := slices.IndexFunc(s.Segments, func(x SegmentReport) bool { return x.Name == os.Name })
			if k < 0 { // "(removed)", which a report lists only where it has some
				s.Segments = append(s.Segments, os)
				continue
			}
			seg := &s.Segments[k]
			seg.Before, seg.After = seg.Before+os.Before, seg.After+os.After
			if seg.Churned != nil && os.Churned != nil {
				*seg.Churned += *os.Churned
			}
		}
		for _, mv := range o.Moves {
			j := slices.IndexFunc(s.Moves, func(x MoveReport) bool { return x.From == mv.From && x.To == mv.To })
			if j < 0 {
				s.Moves = append(s.Moves, mv)
			} else {
				s.Moves[j].Count += mv.Count
			}
		}
	}
	// As engine.SegmentationPlan.MovesList orders them: most first, then
	// by the segments' order, none first.
	for i := range a {
		s := &a[i]
		at := func(name string) int {
			if name == "" {
				return 0
			}
			return 1 + slices.IndexFunc(s.Segments, func(x SegmentReport) bool { return x.Name == name })
		}
		slices.SortStableFunc(s.Moves, func(x, y MoveReport) int {
			return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(at(x.From), at(y.From)), cmp.Compare(at(x.To), at(y.To)))
		})
	}
	return a
}

// appendUpTo appends b to a while a has fewer than n elements.
func appendUpTo[T any](a, b []T, n int) []T {
	if k := n - len(a); k > 0 {
		a = append(a, b[:min(k, len(b))]...)
	}
	return a
}
