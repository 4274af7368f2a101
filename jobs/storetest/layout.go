package storetest

import (
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

var layoutCases = []testCase{
	{"joined snapshots read state by name when the rules reorder, add or remove segmentations and actions", testLayout},
}

// testStateLayout's case with facts on the store's database, read
// joined to state in one query; the assignments and action_last views
// then agree with the state the snapshot reads.
func testLayout(t *testing.T, nb func(t *testing.T) Backend) {
	e := newEnv(t, nb, 300)
	o := Options()
	o.Guard.AllowLarge = true
	o.InitialActions = true
	checkLayoutChanges(t, layoutRun{
		apply:  func(rs *rules.RuleSet, at time.Time) { e.applyAt(rs, at, o) },
		states: func(rs *rules.RuleSet) map[string]engine.State { return snapshotStates(t, e.s, e.f, rs) },
		shift:  func() { ShiftFacts(t, e.s.DB()) },
	})
	rs := RetailRuleSet(t)
	for k, st := range snapshotStates(t, e.s, e.f, rs) {
		for i, s := range rs.Segmentations {
			var n int
			e.scan(`SELECT count(*) FROM {assignments} WHERE ruleset = 'retail' AND customer_key = $1 AND segmentation = $2 AND segment = $3`,
				[]any{k, s.Name, st.Segments[i].Segment}, &n)
			if n != 1 {
				t.Fatalf("customer %s: the assignments view has %d rows of %s in %s, want 1 as the state reads", k, n, s.Name, st.Segments[i].Segment)
			}
		}
	}
}
