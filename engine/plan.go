package engine

import (
	"sort"

	"github.com/tierflow/tierflow/rules"
)

// Plan limits: how many examples a plan keeps.
const (
	MaxErrorExamples = 10
	MaxSamples       = 20
)

// Plan aggregates many customers' results into what a run would change:
// per segmentation the moves between segments and the size of each
// segment, the actions that would be queued, rule errors with the first
// examples, and sample customers who move. Add results with Add; merge
// plans built by several goroutines with Merge.
type Plan struct {
	RuleSet *rules.RuleSet
	// Customers counts the customers evaluated; Changed those with at
	// least one segment change. Left counts the customers who left the
	// facts source (Result.Left); each that had a segment is also in
	// Changed, moving to "no segment" (index 0 of the move matrix).
	Customers int
	Changed   int
	Left      int
	// Segmentations is indexed like RuleSet.Segmentations.
	Segmentations []*SegmentationPlan
	// Actions counts queued actions, indexed like RuleSet.Actions;
	// HeldOut and Suppressed count the withheld ones (Result.Withheld).
	Actions    []int
	HeldOut    []int
	Suppressed []int
	// Errors counts customers with at least one rule error; ErrorsByRule
	// counts errors by rule field path.
	Errors        int
	ErrorsByRule  map[string]int
	ErrorExamples []RuleError
	Samples       []Sample
	// churnSeg is the index of the churn segmentation, -1 for none.
	churnSeg int
}

// entersChurn reports whether the customer moves into the churn segment.
func (p *Plan) entersChurn(res *Result) bool {
	d := &res.Segments[p.churnSeg]
	seg := p.RuleSet.Churn.Segment
	return d.Segment == seg && d.Previous != seg
}

// SegmentationPlan is one segmentation's part of a plan.
type SegmentationPlan struct {
	Name  string
	Label string
	// Segments are the segment names in rank order. Index 0 of Before,
	// After and the move matrix stands for "no segment"; index k for
	// Segments[k-1]; the last index for previous segments the rules no
	// longer define.
	Segments []string
	Before   []int
	After    []int
	// Moves[from][to] counts customers who move from one segment to
	// another; the diagonal is always zero.
	Moves [][]int
	// Churned counts, for a rule set that declares churn (rules.RuleSet.
	// Churn), the customers who enter the churn segment in this run by
	// the segment they were in before it here (indexed like Before):
	// the numerator of the churn rate of each class. Nil otherwise.
	Churned []int
	// Coverage counts the customers of each segment (indexed like After)
	// by coverage state (CoverageCovered, CoveragePending,
	// CoverageOverdue); all zero for segments without a target.
	Coverage [][4]int
}

// Sample is one customer who moves, to show with a plan.
type Sample struct {
	Key          string
	Segmentation string
	From, To     string
	Reason       Reason
}

// Move is one cell of a plan's move matrix.
type Move struct {
	From, To string
	Count    int
}

// NewPlan returns an empty plan for rs.
func NewPlan(rs *rules.RuleSet) *Plan {
	p := &Plan{RuleSet: rs, Actions: make([]int, len(rs.Actions)), HeldOut: make([]int, len(rs.Actions)),
		Suppressed: make([]int, len(rs.Actions)), ErrorsByRule: map[string]int{}, churnSeg: -1}
	if c := rs.Churn; c != nil {
		if s, i := rs.Segmentation(c.Segmentation); s != nil && s.SegmentIndex(c.Segment) >= 0 {
			p.churnSeg = i
		}
	}
	for _, s := range rs.Segmentations {
		n := len(s.Segments) + 2
		sp := &SegmentationPlan{Name: s.Name, Label: s.Label, Before: make([]int, n), After: make([]int, n), Moves: make([][]int, n), Coverage: make([][4]int, n)}
		for _, seg := range s.Segments {
			sp.Segments = append(sp.Segments, seg.Name)
		}
		if rs.Churn != nil {
			sp.Churned = make([]int, n)
		}
		for i := range sp.Moves {
			sp.Moves[i] = make([]int, n)
		}
		p.Segmentations = append(p.Segmentations, sp)
	}
	return p
}

func (sp *SegmentationPlan) index(s *rules.Segmentation, name string) int {
	if name == "" {
		return 0
	}
	if i := s.SegmentIndex(name); i >= 0 {
		return i + 1
	}
	return len(sp.Segments) + 1
}

// name returns the segment name at a matrix index.
func (sp *SegmentationPlan) name(i int) string {
	switch {
	case i == 0:
		return ""
	case i <= len(sp.Segments):
		return sp.Segments[i-1]
	}
	return "(removed)"
}

// Add records one customer's result.
func (p *Plan) Add(key string, res *Result) {
	p.Customers++
	changed := false
	for i, s := range p.RuleSet.Segmentations {
		d := &res.Segments[i]
		sp := p.Segmentations[i]
		from, to := sp.index(s, d.Previous), sp.index(s, d.Segment)
		sp.Before[from]++
		sp.After[to]++
		if i < len(res.Coverage) && res.Coverage[i] != CoverageNone {
			sp.Coverage[to][res.Coverage[i]]++
		}
		if from != to {
			sp.Moves[from][to]++
			changed = true
			if len(p.Samples) < MaxSamples {
				p.Samples = append(p.Samples, Sample{Key: key, Segmentation: s.Name, From: d.Previous, To: d.Segment, Reason: d.Reason})
			}
		}
	}
	if changed {
		p.Changed++
	}
	if p.churnSeg >= 0 && p.entersChurn(res) {
		for i, s := range p.RuleSet.Segmentations {
			sp := p.Segmentations[i]
			sp.Churned[sp.index(s, res.Segments[i].Previous)]++
		}
	}
	if res.Left {
		p.Left++
	}
	for _, q := range res.Actions {
		if _, i := p.RuleSet.Action(q.Name); i >= 0 {
			p.Actions[i]++
		}
	}
	for _, q := range res.Withheld {
		if _, i := p.RuleSet.Action(q.Name); i >= 0 {
			if q.Status == HeldOut {
				p.HeldOut[i]++
			} else {
				p.Suppressed[i]++
			}
		}
	}
	if len(res.Errors) > 0 {
		p.Errors++
		for _, e := range res.Errors {
			p.ErrorsByRule[e.Rule]++
			if len(p.ErrorExamples) < MaxErrorExamples {
				p.ErrorExamples = append(p.ErrorExamples, e)
			}
		}
	}
}

// AddUnchanged counts n customers who stay where they are in every
// segmentation, segments[i] being their segment in the i-th ("" for
// none), with no action, error or coverage: what Add counts for each of
// them, for customers a run did not need to read (an incremental run's
// asleep customers).
func (p *Plan) AddUnchanged(segments []string, n int) {
	p.AddGroup(segments, segments, nil, n)
}

// AddGroup counts n customers alike, as Add counts each of them:
// previous[i] and segments[i] are their segments in the i-th
// segmentation before and after the run ("" for none), queued[k] says
// whether the k-th action of the rule set is queued for them (segments
// and actions past the slices' ends: none). They have no error,
// coverage or withheld action: what a run decided in the database
// counts. It adds no sample; AddSample does.
func (p *Plan) AddGroup(previous, segments []string, queued []bool, n int) {
	p.Customers += n
	changed, churns := false, false
	for i, s := range p.RuleSet.Segmentations {
		sp := p.Segmentations[i]
		prev, seg := elem(previous, i), elem(segments, i)
		from, to := sp.index(s, prev), sp.index(s, seg)
		sp.Before[from] += n
		sp.After[to] += n
		if from != to {
			sp.Moves[from][to] += n
			changed = true
		}
		if i == p.churnSeg {
			churn := p.RuleSet.Churn.Segment
			churns = seg == churn && prev != churn
		}
	}
	if changed {
		p.Changed += n
	}
	if churns {
		for i, s := range p.RuleSet.Segmentations {
			sp := p.Segmentations[i]
			sp.Churned[sp.index(s, elem(previous, i))] += n
		}
	}
	for k, q := range queued {
		if q {
			p.Actions[k] += n
		}
	}
}

// elem is s[i], or "" past its end.
func elem(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// AddSample adds s to the plan's samples, if it has room for one more.
func (p *Plan) AddSample(s Sample) {
	if len(p.Samples) < MaxSamples {
		p.Samples = append(p.Samples, s)
	}
}

// Merge adds the counts of o, a plan of the same rule set, into p.
func (p *Plan) Merge(o *Plan) {
	p.Customers += o.Customers
	p.Changed += o.Changed
	p.Left += o.Left
	p.Errors += o.Errors
	for i, sp := range p.Segmentations {
		osp := o.Segmentations[i]
		for f := range sp.Moves {
			sp.Before[f] += osp.Before[f]
			sp.After[f] += osp.After[f]
			for t := range sp.Moves[f] {
				sp.Moves[f][t] += osp.Moves[f][t]
			}
			for k := range sp.Coverage[f] {
				sp.Coverage[f][k] += osp.Coverage[f][k]
			}
			if sp.Churned != nil {
				sp.Churned[f] += osp.Churned[f]
			}
		}
	}
	for i := range p.Actions {
		p.Actions[i] += o.Actions[i]
		p.HeldOut[i] += o.HeldOut[i]
		p.Suppressed[i] += o.Suppressed[i]
	}
	for k, v := range o.ErrorsByRule {
		p.ErrorsByRule[k] += v
	}
	p.ErrorExamples = appendUpTo(p.ErrorExamples, o.ErrorExamples, MaxErrorExamples)
	p.Samples = appendUpTo(p.Samples, o.Samples, MaxSamples)
}

func appendUpTo[T any](dst, src []T, limit int) []T {
	for _, x := range src {
		if len(dst) >= limit {
			break
		}
		dst = append(dst, x)
	}
	return dst
}

// MovesList returns the non-zero cells of the move matrix, largest first.
func (sp *SegmentationPlan) MovesList() []Move {
	var out []Move
	for f, row := range sp.Moves {
		for t, n := range row {
			if n > 0 {
				out = append(out, Move{From: sp.name(f), To: sp.name(t), Count: n})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	return out
}

// Moved counts the customers who change segment in this segmentation.
func (sp *SegmentationPlan) Moved() int {
	n := 0
	for _, row := range sp.Moves {
		for _, c := range row {
			n += c
		}
	}
	return n
}

// TotalActions counts every queued action.
func (p *Plan) TotalActions() int {
	n := 0
	for _, c := range p.Actions {
		n += c
	}
	return n
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool { return p.Changed > 0 || p.TotalActions() > 0 }
