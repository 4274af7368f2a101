package kernel

import (
	"testing"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// TestNoneLeft: the counts show nobody left only when every listed state
// row is accounted for by a customer read or left unread; a read
// customer with neither a digest nor a segment (new, or a row with only
// cooldowns) accounts for none.
func TestNoneLeft(t *testing.T) {
	rs := &rules.RuleSet{Name: "shop", Facts: &rules.Schema{}, Segmentations: []*rules.Segmentation{{Name: "tier"}, {Name: "life"}}}
	digested := engine.Customer{State: engine.State{Mark: engine.Mark{Digest: 7}}}
	segmented := engine.Customer{State: engine.State{Segments: []engine.Assignment{{}, {Segment: "active"}}}}
	bare := engine.Customer{State: engine.State{Segments: []engine.Assignment{{}, {}}}}
	for _, c := range []struct {
		name         string
		listed, rows int64
		read         []engine.Customer
		want         bool
	}{
		{"all unread", 10, 10, nil, true},
		{"one left, none read", 10, 9, nil, false},
		{"read by digest and by segment", 10, 10, []engine.Customer{digested, segmented}, true},
		{"a new customer in place of one who left", 10, 10, []engine.Customer{bare}, false},
		{"a new customer besides", 10, 11, []engine.Customer{bare}, true},
		{"the state counted short", 9, 10, nil, false},
	} {
		cc := &changedCounts{rs: rs, rows: c.rows, listed: c.listed, read: map[string]int64{}}
		cc.readBatch(c.read)
		if got := cc.noneLeft(); got != c.want {
			t.Errorf("%s: noneLeft() = %v, want %v (listed %d, rows %d, read %d of them %d listed)", c.name, got, c.want, c.listed, c.rows, cc.readRows, cc.readListed)
		}
	}
}
