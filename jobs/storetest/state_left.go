package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

var stateLeftCases = []stateCase{
	{"a customer who left the source moves to no segment, with history and its action, and may come back", testStateLeft},
	{"a rolled-back leave changes nothing", testStateLeftRollback},
}

// leftAction is the action the cases stage with a leave.
const leftAction = "winback_call"

// left is what the engine returns for a customer gone from the facts
// under on_missing: exit: a leave in every segmentation, from the
// segment in st, and one action.
func left(rs *rules.RuleSet, key string, st engine.State, due time.Time) jobs.Evaluated {
	c := &engine.Customer{Key: key, Facts: make([]any, len(rs.Facts.Fields)), State: st, Absent: true}
	res := &engine.Result{Segments: make([]engine.Decision, len(rs.Segmentations))}
	for i := range res.Segments {
		var prev string
		if i < len(st.Segments) {
			prev = st.Segments[i].Segment
		}
		res.Segments[i] = engine.Decision{Previous: prev, Reason: engine.ReasonLeft}
	}
	res.Actions = []engine.QueuedAction{{Name: leftAction, Priority: 1, Due: due, Payload: map[string]any{"why": "left"}}}
	return jobs.Evaluated{Customer: c, Result: res}
}

// actionIndex returns the index of rs's action called name, or -1.
func actionIndex(rs *rules.RuleSet, name string) int {
	for i, a := range rs.Actions {
		if a.Name == name {
			return i
		}
	}
	return -1
}

// A customer staged as a leave in every segmentation (as the engine
// decides for one absent from the facts under on_missing: exit) has no
// segment after the commit, read by this store and another; each
// segmentation's history ends with a move from its old segment to none,
// reason left, at the run's as-of; the action staged with it is queued
// and its cooldown recorded. A leave of a customer with no segment, and
// the other customers, change nothing. When the customer is in the
// facts again, the next apply treats it as new: a segment in every
// segmentation since that run's as-of, entered from no segment.
func testStateLeft(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 300)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	e.applyAt(rs, day(0), o)
	keys := e.f.keys()
	const gone, stranger = "7", "no-such-customer"
	before := e.states(rs)
	for i, a := range before[gone].Segments {
		if a.Segment == "" {
			t.Fatalf("customer %s has no segment in %s after the first apply", gone, rs.Segmentations[i].Name)
		}
	}
	act := actionIndex(rs, leftAction)
	if act < 0 || len(before[gone].LastActions) != len(rs.Actions) {
		t.Fatalf("retail.yaml has no action %s with a cooldown", leftAction)
	}
	prior := len(e.history(rs.Name, gone))
	stranger0, _ := states(t, e.s, rs, []string{stranger})

	tx, id := e.beginAt(rs, day(1))
	stage(t, tx, []jobs.Evaluated{left(rs, gone, before[gone], day(2)), left(rs, stranger, stranger0[stranger], day(2))})
	if err := tx.Commit(ctx, jobs.RunSummary{Status: jobs.StatusSucceeded, Finished: day(1), Customers: 299, Changed: 1, Actions: 2}); err != nil {
		t.Fatalf("commit a leave: %v", err)
	}

	for _, s := range []StateStore{e.s, e.another()} {
		after, initial := states(t, s, rs, keys)
		if initial {
			t.Fatal("the rule set reads as initial after one customer left")
		}
		if got := after[gone].Segments; len(got) != len(rs.Segmentations) {
			t.Fatalf("customer %s who left reads %d segmentations, want %d", gone, len(got), len(rs.Segmentations))
		}
		for i, a := range after[gone].Segments {
			if a != (engine.Assignment{}) {
				t.Fatalf("customer %s left %s but reads %+v there", gone, rs.Segmentations[i].Name, a)
			}
		}
		if got := after[gone].LastActions[act]; !got.Equal(day(1)) {
			t.Fatalf("cooldown of %s for customer %s who left: %s, want %s", leftAction, gone, ts(got), ts(day(1)))
		}
		for _, k := range keys {
			if k == gone {
				continue
			}
			for i, a := range after[k].Segments {
				if a != before[k].Segments[i] {
					t.Fatalf("customer %s, %s: %+v before another customer left, %+v after", k, rs.Segmentations[i].Name, before[k].Segments[i], a)
				}
			}
		}
	}

	h := e.history(rs.Name, gone)
	if len(h) != prior+len(rs.Segmentations) {
		t.Fatalf("customer %s has %d history rows after leaving, want %d: %+v", gone, len(h), prior+len(rs.Segmentations), h)
	}
	moved := map[string]bool{}
	for _, m := range h[prior:] {
		i := segmentation(rs, m.Segmentation)
		if i < 0 || m.From == nil || *m.From != before[gone].Segments[i].Segment || m.To != "" || m.Reason != "left" ||
			!m.AsOf.Equal(day(1)) || m.RunID != id || moved[m.Segmentation] {
			t.Fatalf("history of the leave: %+v; want one row per segmentation from the old segment to none, reason left, run %d", m, id)
		}
		moved[m.Segmentation] = true
	}
	if h := e.history("", stranger); len(h) != 0 {
		t.Fatalf("a leave of a customer with no segment wrote history: %+v", h)
	}

	q := e.queue(kernel.ActionFilter{RuleSet: rs.Name, Action: leftAction, Customer: gone})
	var queued []kernel.QueuedAction
	for _, a := range q {
		if a.RunID == id {
			queued = append(queued, a)
		}
	}
	if len(queued) != 1 {
		t.Fatalf("the leave's run queued %d %s actions for customer %s, want 1: %+v", len(queued), leftAction, gone, q)
	}
	checkQueued(t, queued[0], id, 1, day(2))
	var payload map[string]any
	if err := json.Unmarshal(queued[0].Payload, &payload); err != nil || payload["why"] != "left" {
		t.Fatalf("payload of the leave's action: %s (%v)", queued[0].Payload, err)
	}
	if n := len(e.queue(kernel.ActionFilter{RuleSet: rs.Name, Customer: stranger})); n != 1 {
		t.Fatalf("the action staged with a leave of a customer with no segment: %d queued, want 1", n)
	}

	// The customer is in the facts again (they never left memFacts): the
	// next apply places it as a new customer.
	out := e.applyAt(rs, day(2), o)
	back, _ := states(t, e.s, rs, []string{gone})
	for i, a := range back[gone].Segments {
		if a.Segment == "" || !a.Since.Equal(day(2)) {
			t.Fatalf("customer %s back in the facts, %s: %+v; want a segment since %s", gone, rs.Segmentations[i].Name, a, ts(day(2)))
		}
	}
	h = e.history(rs.Name, gone)
	if len(h) != prior+2*len(rs.Segmentations) {
		t.Fatalf("customer %s has %d history rows after coming back, want %d", gone, len(h), prior+2*len(rs.Segmentations))
	}
	for _, m := range h[prior+len(rs.Segmentations):] {
		i := segmentation(rs, m.Segmentation)
		if i < 0 || m.From != nil || m.To != back[gone].Segments[i].Segment || m.RunID != out.RunID || !m.AsOf.Equal(day(2)) {
			t.Fatalf("history of the return: %+v; want a move from no segment to %s in run %d", m, back[gone].Segments[max(i, 0)].Segment, out.RunID)
		}
	}
}

// A leave staged with its action and rolled back changes nothing that
// any reader sees, and releases the lock: the same leave can be staged
// and committed afterwards.
func testStateLeftRollback(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 200)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	e.applyAt(rs, day(0), o)
	const gone = "11"
	before := e.view(rs, true)
	st, _ := states(t, e.s, rs, []string{gone})
	leave := []jobs.Evaluated{left(rs, gone, st[gone], day(2))}

	tx, id := e.beginAt(rs, day(1))
	stage(t, tx, leave)
	SameDigests(t, "state while a leave is staged", e.view(rs, true), before)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	SameDigests(t, "state after a leave was rolled back", e.view(rs, true), before)
	other := &stateEnv{t: t, s: e.another(), f: e.f}
	SameDigests(t, "state after a leave was rolled back, read by another store", other.view(rs, true), before)
	if err := e.s.FinishRun(ctx, id, jobs.RunSummary{Status: jobs.StatusFailed, Finished: day(1), Error: "rolled back"}); err != nil {
		t.Fatal(err)
	}

	tx, _ = e.beginAt(rs, day(1))
	stage(t, tx, leave)
	if err := tx.Commit(ctx, jobs.RunSummary{Status: jobs.StatusSucceeded, Finished: day(1), Changed: 1, Actions: 1}); err != nil {
		t.Fatalf("commit the leave after a rollback: %v", err)
	}
	after, _ := states(t, e.s, rs, []string{gone})
	for i, a := range after[gone].Segments {
		if a.Segment != "" {
			t.Fatalf("customer %s, %s: %+v after the committed leave; want no segment", gone, rs.Segmentations[i].Name, a)
		}
	}
}
