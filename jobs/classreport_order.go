package jobs

import (
	"cmp"
	"strings"

	"github.com/tierflow/tierflow/rules"
)

// removedSegment is the name a plan report gives the customers whose
// previous segment the rules no longer define (NewPlanReport).
const removedSegment = "(removed)"

// classOrder puts what a class report lists in the rule file's order:
// segmentations as the file lists them; in each, segments by rank, then
// those the rules no longer define (by name), then no segment ("").
type classOrder struct {
	rs      *rules.RuleSet
	seg     map[string]int
	actions map[string]int
}

func newClassOrder(rs *rules.RuleSet) *classOrder {
	o := &classOrder{rs: rs, seg: map[string]int{}, actions: map[string]int{}}
	for i, s := range rs.Segmentations {
		o.seg[s.Name] = i
	}
	for i, a := range rs.Actions {
		o.actions[a.Name] = i
	}
	return o
}

// segmentation is the index of the segmentation called name, or -1 when
// the rules do not define it.
func (o *classOrder) segmentation(name string) int {
	if i, ok := o.seg[name]; ok {
		return i
	}
	return -1
}

// position is where segment name of segmentation i sorts: its rank, one
// past the last rank for a segment the rules do not define, and after
// that for no segment.
func (o *classOrder) position(i int, name string) int {
	s := o.rs.Segmentations[i]
	if name == "" {
		return len(s.Segments) + 2
	}
	if k := s.SegmentIndex(name); k >= 0 {
		return k + 1
	}
	return len(s.Segments) + 1
}

// compareSegments orders two segments of segmentation i.
func (o *classOrder) compareSegments(i int, a, b string) int {
	return cmp.Or(cmp.Compare(o.position(i, a), o.position(i, b)), strings.Compare(a, b))
}

// compareActions orders actions as the rule file does, those it no
// longer defines after, by name.
func (o *classOrder) compareActions(a, b string) int {
	ia, oka := o.actions[a]
	ib, okb := o.actions[b]
	switch {
	case oka && okb:
		return cmp.Compare(ia, ib)
	case oka != okb:
		if oka {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// direction says where a move of segmentation i goes: "in" from no
// segment, "out" to none, "up" to a higher rank (one listed earlier),
// "down" otherwise. A segment the rules do not define ranks below those
// they do.
func (o *classOrder) direction(i int, from, to string) string {
	switch {
	case from == "":
		return "in"
	case to == "":
		return "out"
	case o.position(i, to) < o.position(i, from):
		return "up"
	}
	return "down"
}

// statusOrder is the order of queue statuses in a report: as an action
// goes through them, withheld and cancelled ones last.
var statusOrder = map[string]int{ActionPending: 0, ActionClaimed: 1, ActionDone: 2, ActionFailed: 3, ActionDead: 4,
	ActionHeldOut: 5, ActionSuppressed: 6, ActionCancelled: 7}

// compareStatuses orders queue statuses, unknown ones last by name.
func compareStatuses(a, b string) int {
	ia, oka := statusOrder[a]
	ib, okb := statusOrder[b]
	if !oka {
		ia = len(statusOrder)
	}
	if !okb {
		ib = len(statusOrder)
	}
	return cmp.Or(cmp.Compare(ia, ib), strings.Compare(a, b))
}
