package kernel

import (
	"maps"
	"slices"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// A tally key gives back the segments and digest it was made of, less
// trailing empty positions, so that a row keeps its group when the
// layout grows.
func TestTallyKeyRoundTrip(t *testing.T) {
	for _, c := range []struct {
		segs   []string
		digest bool
		want   []string
	}{
		{nil, false, nil},
		{nil, true, nil},
		{[]string{"", ""}, true, nil},
		{[]string{"vip"}, false, []string{"vip"}},
		{[]string{"vip", "", "active", ""}, true, []string{"vip", "", "active"}},
		{[]string{"", "new"}, false, []string{"", "new"}},
	} {
		segs, digest := splitTallyKey(tallyKey(slices.Clone(c.segs), c.digest))
		if !slices.Equal(segs, c.want) || digest != c.digest {
			t.Errorf("tallyKey(%q, %v) splits into %q, %v; want %q, %v", c.segs, c.digest, segs, digest, c.want, c.digest)
		}
	}
	if tallyKey([]string{"vip", ""}, true) != tallyKey([]string{"vip"}, true) {
		t.Error("a trailing empty position changes the key")
	}
	if tallyKey([]string{"a"}, true) == tallyKey([]string{"a"}, false) {
		t.Error("the digest does not count in the key")
	}
}

// The counts tallied reads from a tally equal those of the aggregate it
// replaces (ReadChanged's query of the state rows): the rows listed
// (a segment at any layout position, or a digest), and those with a
// digest by the segments of the rule set's segmentations, whose
// positions need not be the first, nor all of the layout's.
func TestTalliedCountsAsTheStateQuery(t *testing.T) {
	rs := &rules.RuleSet{Name: "shop", Facts: &rules.Schema{}, Segmentations: []*rules.Segmentation{{Name: "tier"}, {Name: "life"}, {Name: "fresh"}}}
	// "gone" holds position 2 for a segmentation the rules dropped;
	// "fresh" has no position yet.
	lay := &Layout{segs: map[string]int{"tier": 3, "gone": 2, "life": 1}, acts: map[string]int{}}
	type row struct {
		segs   [3]string // by position
		digest bool
	}
	rows := []row{
		{[3]string{"active", "", "vip"}, true},
		{[3]string{"active", "", "vip"}, true},
		{[3]string{"active", "", "vip"}, false},
		{[3]string{"", "old", ""}, true},
		{[3]string{"", "old", ""}, false},
		{[3]string{"", "", ""}, true},
		{[3]string{"", "", ""}, false}, // cooldowns only: not listed
		{[3]string{"new", "", ""}, true},
		{[3]string{"", "", "key"}, true},
	}
	g := tallyGroups{}
	var listed int64
	state := map[string]int64{}
	for _, r := range rows {
		g[tallyKey(r.segs[:], r.digest)]++
		if r.digest || r.segs != [3]string{} {
			listed++
		}
		if r.digest {
			// tier at position 3, life at 1, fresh at none
			state[segmentKey([]string{r.segs[2], r.segs[0], ""})]++
		}
	}
	c := &changedCounts{rs: rs, state: map[string]int64{}}
	c.tallied(g, lay)
	if c.listed != listed {
		t.Errorf("listed %d, want %d", c.listed, listed)
	}
	if !maps.Equal(c.state, state) {
		t.Errorf("state counts %v, want %v", c.state, state)
	}
}
