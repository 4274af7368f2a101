package storetest

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

var stateLayoutCases = []stateCase{
	{"state reads by name when the rules reorder, add or remove segmentations and actions", testStateLayout},
}

// Edits of the retail example's text: the rule changes a state store
// must read its state through.
var (
	// sourceFirst moves the source segmentation first and the
	// account_review action first.
	sourceFirst = func(t testing.TB, text string) string {
		text = moveBlock(t, text, "  - name: source\n", "actions:\n", "segmentations:\n")
		return moveBlock(t, text, "  - name: account_review\n", "", "actions:\n")
	}
	// withoutSource drops the source segmentation and the vip_care_visit
	// action (and the coverage that counts it).
	withoutSource = func(t testing.TB, text string) string {
		text = moveBlock(t, text, "  - name: source\n", "actions:\n", "")
		text = moveBlock(t, text, "  - name: vip_care_visit\n", "  - name: account_review\n", "")
		return replaceOnce(t, text, "by: [account_review, vip_care_visit, winback_call]", "by: [account_review, winback_call]")
	}
	// withOrdersBand adds a segmentation between value_tier and
	// lifecycle, and an action with a cooldown before the others.
	withOrdersBand = func(t testing.TB, text string) string {
		text = replaceOnce(t, text, "  - name: lifecycle\n", `  - name: orders_band
    segments:
      - name: frequent
        when: orders_12m >= 6
      - name: occasional
        fallback: true

  - name: lifecycle
`)
		return replaceOnce(t, text, "actions:\n", `actions:
  - name: thank_you
    when: entered("orders_band", "frequent")
    cooldown: 60d
    priority: 9
    payload:
      template: thanks

`)
	}
)

// retailEdited compiles the retail example after edit, without its
// contact limits and holdouts (Unwithheld).
func retailEdited(t testing.TB, edit func(testing.TB, string) string) *rules.RuleSet {
	t.Helper()
	src, err := os.ReadFile(retailPath(t))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Compile("retail.yaml", []byte(edit(t, string(src))), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Unwithheld(rs)
}

// moveBlock cuts the block of text from the line from up to the line
// until (the end of the text for ""), and inserts it after the line
// after, or drops it for "".
func moveBlock(t testing.TB, text, from, until, after string) string {
	t.Helper()
	i := strings.Index(text, from)
	if i < 0 {
		t.Fatalf("retail.yaml no longer contains %q", from)
	}
	j := len(text)
	if until != "" {
		if j = strings.Index(text[i:], until); j < 0 {
			t.Fatalf("retail.yaml has no %q after %q", until, from)
		}
		j += i
	}
	block := strings.TrimRight(text[i:j], "\n") + "\n\n"
	text = text[:i] + text[j:]
	if after == "" {
		return text
	}
	return replaceOnce(t, text, after, after+block)
}

func replaceOnce(t testing.TB, text, old, new string) string {
	t.Helper()
	if !strings.Contains(text, old) {
		t.Fatalf("retail.yaml no longer contains %q", old)
	}
	return strings.Replace(text, old, new, 1)
}

// layoutRun is how a case applies rule sets and reads the state back.
type layoutRun struct {
	apply  func(rs *rules.RuleSet, at time.Time)
	states func(rs *rules.RuleSet) map[string]engine.State
	shift  func()
}

// A state store keeps state by segmentation and action, not by the rule
// file's order. State written by the retail example reads the same,
// name by name, through a rule set that reorders its segmentations and
// actions, one that removes some and one that adds some (no state there
// yet). An apply of the rule set with the additions gives every customer
// a segment in the new segmentation and leaves the rest consistent; an
// apply of the one without source keeps source's state, unread, for
// when the rules bring it back.
func testStateLayout(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 300)
	o := Options()
	o.Guard.AllowLarge = true
	o.InitialActions = true
	checkLayoutChanges(t, layoutRun{
		apply:  func(rs *rules.RuleSet, at time.Time) { e.applyAt(rs, at, o) },
		states: e.states,
		shift:  e.f.shift,
	})
}

func checkLayoutChanges(t *testing.T, run layoutRun) {
	rs := RetailRuleSet(t)
	run.apply(rs, day(0))
	run.shift()
	run.apply(rs, day(1))
	want := run.states(rs)
	if n := countState(want); n.segments == 0 || n.lastActions == 0 {
		t.Fatalf("the retail example's state has %d segments and %d last actions; the case needs both", n.segments, n.lastActions)
	}
	added := retailEdited(t, withOrdersBand)
	for _, v := range []struct {
		name string
		rs   *rules.RuleSet
	}{{"reordered", retailEdited(t, sourceFirst)}, {"removed", retailEdited(t, withoutSource)}, {"added", added}} {
		sameByName(t, "read "+v.name, rs, want, v.rs, run.states(v.rs))
	}

	run.apply(added, day(2))
	afterAdded := run.states(added)
	for k, st := range afterAdded {
		if st.Segments[segmentation(added, "orders_band")].Segment == "" {
			t.Fatalf("customer %s has no orders_band segment after an apply of the rules that add it: %+v", k, st)
		}
	}
	sameByName(t, "read after an apply with a segmentation added", added, afterAdded, rs, run.states(rs))

	run.shift()
	run.apply(retailEdited(t, withoutSource), day(3))
	back := run.states(rs)
	src := segmentation(rs, "source")
	for k, st := range back {
		if !sameAssignment(st.Segments[src], afterAdded[k].Segments[segmentation(added, "source")]) {
			t.Fatalf("customer %s: source %+v after an apply without it, want %+v as before", k, st.Segments[src], afterAdded[k].Segments[segmentation(added, "source")])
		}
	}
}

// sameAssignment reports whether a and b are the same segment since the
// same times.
func sameAssignment(a, b engine.Assignment) bool {
	return a.Segment == b.Segment && a.Since.Equal(b.Since) && a.PendingSince.Equal(b.PendingSince)
}

// stateCount counts the segments and last action times of a state.
type stateCount struct{ segments, lastActions int }

func countState(st map[string]engine.State) stateCount {
	var n stateCount
	for _, s := range st {
		for _, a := range s.Segments {
			if a.Segment != "" {
				n.segments++
			}
		}
		for _, at := range s.LastActions {
			if !at.IsZero() {
				n.lastActions++
			}
		}
	}
	return n
}

// sameByName fails unless every customer's state in got (read through
// rule set grs) equals its state in want (read through wrs) for every
// segmentation and action with a cooldown the two share by name, and is
// empty for those only grs has.
func sameByName(t *testing.T, what string, wrs *rules.RuleSet, want map[string]engine.State, grs *rules.RuleSet, got map[string]engine.State) {
	t.Helper()
	for k, w := range want {
		g := got[k]
		for i, s := range grs.Segmentations {
			var exp engine.Assignment
			if j := segmentation(wrs, s.Name); j >= 0 {
				exp = w.Segments[j]
			}
			if !sameAssignment(g.Segments[i], exp) {
				t.Fatalf("%s: customer %s, %s: %+v, want %+v", what, k, s.Name, g.Segments[i], exp)
			}
		}
		for i, a := range grs.Actions {
			if a.Cooldown == 0 {
				continue
			}
			var exp time.Time
			if j := actionIndex(wrs, a.Name); j >= 0 && wrs.Actions[j].Cooldown > 0 {
				exp = w.LastActions[j]
			}
			if !g.LastActions[i].Equal(exp) {
				t.Fatalf("%s: customer %s, %s last queued %v, want %v", what, k, a.Name, g.LastActions[i], exp)
			}
		}
	}
}

// snapshotStates reads every customer's state as a run of rs reads it
// from s with facts f: joined to the facts in one query where s can.
func snapshotStates(t *testing.T, s jobs.StateStore, f jobs.FactsSource, rs *rules.RuleSet) map[string]engine.State {
	t.Helper()
	out := map[string]engine.State{}
	for k, c := range snapshotCustomers(t, s, f, rs, day(0)) {
		out[k] = c.State
	}
	return out
}
