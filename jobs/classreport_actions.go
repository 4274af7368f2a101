package jobs

import (
	"cmp"
	"errors"
	"slices"
	"strings"
)

// actionTally adds up the queue's counts per action, segmentation,
// segment and status: each count adds to one class of every
// segmentation, the one its segments name there ("" when they name
// none).
type actionTally struct {
	order  *classOrder
	counts map[actionKey]int64
}

// actionKey is one row of the report's action counts; seg indexes the
// rule set's segmentations.
type actionKey struct {
	action  string
	seg     int
	segment string
	status  string
}

// errNilCount is a source passing no count.
var errNilCount = errors.New("the queue passed no count")

// add takes one count of the queue. It implements ReportSource's fn.
func (t *actionTally) add(c *ActionCount) error {
	if c == nil {
		return errNilCount
	}
	for i, s := range t.order.rs.Segmentations {
		t.counts[actionKey{c.Action, i, c.Segments[s.Name], c.Status}] += c.Count
	}
	return nil
}

// list is the counts in the report's order: action, segmentation,
// segment, status.
func (t *actionTally) list() []ActionClassCount {
	keys := make([]actionKey, 0, len(t.counts))
	for k := range t.counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b actionKey) int {
		return cmp.Or(t.order.compareActions(a.action, b.action), cmp.Compare(a.seg, b.seg),
			t.order.compareSegments(a.seg, a.segment, b.segment), compareStatuses(a.status, b.status), strings.Compare(a.status, b.status))
	})
	out := make([]ActionClassCount, len(keys))
	for i, k := range keys {
		out[i] = ActionClassCount{Action: k.action, Segmentation: t.order.rs.Segmentations[k.seg].Name, Segment: k.segment,
			Status: k.status, Count: t.counts[k]}
	}
	return out
}
