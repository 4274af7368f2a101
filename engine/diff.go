package engine

import (
	"sort"

	"github.com/tierflow/tierflow/rules"
)

// Diff aggregates how a proposed rule set's outcomes differ from a
// baseline's on the same customers: only what the rule change causes, not
// data drift, since both sides see the same facts and previous state.
// Build it with NewDiff and Add; merge parallel diffs with Merge.
type Diff struct {
	Baseline, Proposed *rules.RuleSet
	Customers          int
	// Differ counts customers with a different segment anywhere or a
	// different set of actions.
	Differ int
	// Segmentations lists every segmentation of either side, proposed
	// order first, then those only the baseline has.
	Segmentations []*SegmentationDiff
	// ActionsAdded and ActionsRemoved count customers for whom the
	// proposed rules queue an action the baseline does not, and the
	// reverse, by action name.
	ActionsAdded, ActionsRemoved map[string]int
	// MatchesBefore and MatchesAfter count customers each rule matched
	// ("value_tier.vip", "actions.winback_call") on each side.
	MatchesBefore, MatchesAfter map[string]int
	// NewErrors counts, by rule, customers for whom the proposed rules
	// fail where the baseline did not fail.
	NewErrors        map[string]int
	NewErrorExamples []RuleError
	Samples          []DiffSample
	// SampleLimit caps Samples; 0 means MaxSamples.
	SampleLimit int
}

// SegmentationDiff counts, for one segmentation, customers whose segment
// differs between baseline and proposed, by (baseline, proposed) pair.
type SegmentationDiff struct {
	Name, Label string
	// InBaseline and InProposed say which sides define the segmentation.
	InBaseline, InProposed bool
	Changes                map[[2]string]int
	base, prop             int // segmentation indexes, -1 if absent
}

// Moved counts customers classified differently in this segmentation.
func (sd *SegmentationDiff) Moved() int {
	n := 0
	for _, c := range sd.Changes {
		n += c
	}
	return n
}

// ChangesList returns the (baseline -> proposed) cells, largest first.
func (sd *SegmentationDiff) ChangesList() []Move {
	out := make([]Move, 0, len(sd.Changes))
	for k, n := range sd.Changes {
		out = append(out, Move{From: k[0], To: k[1], Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

// DiffSample is one customer classified differently, with the decision
// on each side.
type DiffSample struct {
	Key          string
	Segmentation string
	Before       Decision
	After        Decision
}

// NewDiff returns an empty diff between two rule sets. baseline may be nil
// for a rule set the change adds.
func NewDiff(baseline, proposed *rules.RuleSet) *Diff {
	d := &Diff{
		Baseline: baseline, Proposed: proposed,
		ActionsAdded: map[string]int{}, ActionsRemoved: map[string]int{},
		MatchesBefore: map[string]int{}, MatchesAfter: map[string]int{},
		NewErrors: map[string]int{},
	}
	seen := map[string]*SegmentationDiff{}
	add := func(s *rules.Segmentation) *SegmentationDiff {
		sd := seen[s.Name]
		if sd == nil {
			sd = &SegmentationDiff{Name: s.Name, Label: s.Label, Changes: map[[2]string]int{}, base: -1, prop: -1}
			seen[s.Name] = sd
			d.Segmentations = append(d.Segmentations, sd)
		}
		return sd
	}
	for i, s := range proposed.Segmentations {
		sd := add(s)
		sd.InProposed, sd.prop = true, i
	}
	if baseline != nil {
		for i, s := range baseline.Segmentations {
			sd := add(s)
			sd.InBaseline, sd.base = true, i
		}
	}
	return d
}

func (d *Diff) limit() int {
	if d.SampleLimit > 0 {
		return d.SampleLimit
	}
	return MaxSamples
}

// Add records one customer's outcome under both rule sets. before is nil
// when there is no baseline.
func (d *Diff) Add(key string, before, after *Result) {
	d.Customers++
	differs := false
	for _, sd := range d.Segmentations {
		var b, a Decision
		if sd.base >= 0 && before != nil {
			b = before.Segments[sd.base]
			d.MatchesBefore[sd.Name+"."+b.Matched]++
		}
		if sd.prop >= 0 {
			a = after.Segments[sd.prop]
			d.MatchesAfter[sd.Name+"."+a.Matched]++
		}
		if b.Segment == a.Segment && sd.InBaseline == sd.InProposed {
			continue
		}
		differs = true
		sd.Changes[[2]string{b.Segment, a.Segment}]++
		if len(d.Samples) < d.limit() {
			d.Samples = append(d.Samples, DiffSample{Key: key, Segmentation: sd.Name, Before: b, After: a})
		}
	}
	var beforeActs map[string]bool
	if before != nil {
		beforeActs = make(map[string]bool, len(before.Actions))
		for _, q := range before.Actions {
			beforeActs[q.Name] = true
			d.MatchesBefore["actions."+q.Name]++
		}
	}
	afterActs := make(map[string]bool, len(after.Actions))
	for _, q := range after.Actions {
		afterActs[q.Name] = true
		d.MatchesAfter["actions."+q.Name]++
		if !beforeActs[q.Name] {
			d.ActionsAdded[q.Name]++
			differs = true
		}
	}
	for name := range beforeActs {
		if !afterActs[name] {
			d.ActionsRemoved[name]++
			differs = true
		}
	}
	failedBefore := map[string]bool{}
	if before != nil {
		for _, e := range before.Errors {
			failedBefore[e.Rule] = true
		}
	}
	for _, e := range after.Errors {
		if !failedBefore[e.Rule] {
			d.NewErrors[e.Rule]++
			if len(d.NewErrorExamples) < MaxErrorExamples {
				d.NewErrorExamples = append(d.NewErrorExamples, e)
			}
		}
	}
	if differs {
		d.Differ++
	}
}

// Merge adds o, a diff of the same two rule sets, into d.
func (d *Diff) Merge(o *Diff) {
	d.Customers += o.Customers
	d.Differ += o.Differ
	for i, sd := range d.Segmentations {
		for k, n := range o.Segmentations[i].Changes {
			sd.Changes[k] += n
		}
	}
	for _, pair := range []struct{ dst, src map[string]int }{
		{d.ActionsAdded, o.ActionsAdded}, {d.ActionsRemoved, o.ActionsRemoved},
		{d.MatchesBefore, o.MatchesBefore}, {d.MatchesAfter, o.MatchesAfter}, {d.NewErrors, o.NewErrors},
	} {
		for k, n := range pair.src {
			pair.dst[k] += n
		}
	}
	d.NewErrorExamples = appendUpTo(d.NewErrorExamples, o.NewErrorExamples, MaxErrorExamples)
	d.Samples = appendUpTo(d.Samples, o.Samples, d.limit())
}
