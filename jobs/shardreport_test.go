package jobs_test

import (
	"reflect"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

// Shards' reports add up segment by segment, "(removed)" included where
// only some shards have it, with the moves ordered as one report orders
// them (most first, then by the segments' order) and coverage's share
// recomputed from the sums.
func TestMergeShards(t *testing.T) {
	seg := func(name string, before, after int) jobs.SegmentReport {
		return jobs.SegmentReport{Name: name, Before: before, After: after}
	}
	a := &jobs.PlanReport{RuleSet: "retail", Customers: 10, Changed: 3, ActionsTotal: 1,
		Segmentations: []jobs.SegmentationReport{{Name: "tier", Moved: 3,
			Segments: []jobs.SegmentReport{seg("vip", 2, 3), seg("small", 8, 7)},
			Moves:    []jobs.MoveReport{{From: "small", To: "vip", Count: 2}, {From: "", To: "small", Count: 1}}}},
		Actions:  []jobs.ActionReport{{Name: "call", Count: 1}},
		Errors:   jobs.ErrorReport{Customers: 1, ByRule: map[string]int{"tier.vip.when": 1}},
		Coverage: []jobs.CoverageReport{{Segment: "vip", Due: 3, Covered: 3, Share: 1}},
		Samples:  []jobs.SampleReport{{Customer: "9"}}}
	b := &jobs.PlanReport{RuleSet: "retail", Customers: 5, Changed: 2, ActionsTotal: 2,
		Segmentations: []jobs.SegmentationReport{{Name: "tier", Moved: 2,
			Segments: []jobs.SegmentReport{seg("vip", 1, 1), seg("small", 3, 4), seg("(removed)", 1, 0)},
			Moves:    []jobs.MoveReport{{From: "vip", To: "small", Count: 1}, {From: "(removed)", To: "small", Count: 1}}}},
		Actions:  []jobs.ActionReport{{Name: "call", Count: 2, HeldOut: 1}},
		Errors:   jobs.ErrorReport{ByRule: map[string]int{}},
		Coverage: []jobs.CoverageReport{{Segment: "vip", Due: 1, Covered: 0}},
		Samples:  []jobs.SampleReport{{Customer: "1"}}}
	m := jobs.MergeShards([]*jobs.PlanReport{a, b})
	if m.Customers != 15 || m.Changed != 5 || m.ActionsTotal != 3 || m.Errors.Customers != 1 || m.Errors.ByRule["tier.vip.when"] != 1 {
		t.Fatalf("totals %d customers, %d changed, %d actions, errors %+v", m.Customers, m.Changed, m.ActionsTotal, m.Errors)
	}
	s := m.Segmentations[0]
	wantSegs := []jobs.SegmentReport{seg("vip", 3, 4), seg("small", 11, 11), seg("(removed)", 1, 0)}
	wantMoves := []jobs.MoveReport{{From: "small", To: "vip", Count: 2}, {From: "", To: "small", Count: 1},
		{From: "vip", To: "small", Count: 1}, {From: "(removed)", To: "small", Count: 1}}
	if s.Moved != 5 || !reflect.DeepEqual(s.Segments, wantSegs) || !reflect.DeepEqual(s.Moves, wantMoves) {
		t.Fatalf("segmentation %+v; want 5 moved, segments %+v, moves %+v", s, wantSegs, wantMoves)
	}
	if c := m.Actions[0]; c.Count != 3 || c.HeldOut != 1 {
		t.Fatalf("action %+v; want 3 queued, 1 held out", c)
	}
	if c := m.Coverage[0]; c.Due != 4 || c.Covered != 3 || c.Share != 0.75 {
		t.Fatalf("coverage %+v; want 3 of 4 covered, share 0.75", c)
	}
	if len(m.Samples) != 2 || m.Samples[0].Customer != "1" {
		t.Fatalf("samples %+v; want both, by customer", m.Samples)
	}
	// The first shard's report is not changed by the merge.
	if a.Customers != 10 || a.Segmentations[0].Segments[0].Before != 2 || len(a.Segmentations[0].Moves) != 2 || a.Coverage[0].Due != 3 {
		t.Fatalf("the first report changed: %+v", a)
	}
}
