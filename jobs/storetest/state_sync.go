package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

var stateSyncCases = []stateCase{
	{"sync: every move in a synced segmentation queues one action per destination, once", testStateSync},
	{"sync: a first run syncs every customer only with initial actions", testStateSyncInitial},
}

// syncPayload is the payload of a sync action.
type syncPayload struct {
	Segmentation string  `json:"segmentation"`
	From         *string `json:"from"`
	To           *string `json:"to"`
	Reason       string  `json:"reason"`
}

// syncOf returns the sync actions of segmentation seg, keyed by
// idempotency key.
func (e *stateEnv) syncOf(rs *rules.RuleSet, seg string) map[string]kernel.QueuedAction {
	e.t.Helper()
	out := map[string]kernel.QueuedAction{}
	for _, a := range e.queue(kernel.ActionFilter{RuleSet: rs.Name, Action: "sync." + seg}) {
		if _, dup := out[a.Idempotent]; dup {
			e.t.Fatalf("two queued sync actions with idempotency key %s", a.Idempotent)
		}
		out[a.Idempotent] = a
	}
	return out
}

// checkSync fails unless the sync action a of segmentation seg to dest
// for customer key, queued by the run as of at, moves from to to with
// the reason of the customer's history at at.
func (e *stateEnv) checkSync(rs *rules.RuleSet, a kernel.QueuedAction, seg, dest, key, from, to string, at time.Time) {
	e.t.Helper()
	if a.Customer != key || a.Destination != dest || a.Priority != 0 || !a.DueAt.Equal(at) || a.Status != "pending" {
		e.t.Fatalf("sync action %+v; want customer %s, destination %s, priority 0, due %s, pending", a, key, dest, ts(at))
	}
	var p syncPayload
	if err := json.Unmarshal(a.Payload, &p); err != nil {
		e.t.Fatalf("sync payload %s: %v", a.Payload, err)
	}
	reason := ""
	for _, h := range e.history(rs.Name, key) {
		if h.Segmentation == seg && h.AsOf.Equal(at) {
			reason = h.Reason
		}
	}
	if p.Segmentation != seg || str(p.From) != from || str(p.To) != to || (from == "") != (p.From == nil) ||
		(to == "") != (p.To == nil) || p.Reason == "" || p.Reason != reason {
		e.t.Fatalf("customer %s: sync payload %s; want %s from %q to %q (null for none), reason %q", key, a.Payload, seg, from, to, reason)
	}
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// An apply with Options.Sync queues, for every customer whose segment
// changes in a synced segmentation (a move, a new customer's first
// segment, a leave), one "sync.<segmentation>" action per destination,
// priority 0, due at the as-of, with the move as its payload; a move in
// another segmentation, and the first run, queue none. A rerun at the
// same as-of, and a leave staged twice, queue nothing new.
func testStateSync(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e := newStateEnv(t, ns, 200)
	rs := RetailRuleSet(t)
	sync := map[string][]string{"source": {"crm", "hook"}, "value_tier": {"crm"}}
	o := Options()
	o.Guard.AllowLarge = true
	o.Sync = sync
	e.applyAt(rs, day(0), o)
	for seg := range sync {
		if got := e.syncOf(rs, seg); len(got) != 0 {
			t.Fatalf("the first run queued %d sync actions of %s, want none", len(got), seg)
		}
	}
	if got := e.queue(kernel.ActionFilter{RuleSet: rs.Name, Action: "sync.lifecycle"}); len(got) != 0 {
		t.Fatalf("lifecycle is not synced but %d sync actions were queued", len(got))
	}

	before := e.states(rs)
	e.f.shift()
	const newcomer = "201"
	e.f.put(Generated(201))
	e.applyAt(rs, day(1), o)
	after := e.states(rs)
	for seg, dests := range sync {
		si := segmentation(rs, seg)
		got := e.syncOf(rs, seg)
		moved := 0
		for key, st := range after {
			var from string
			if b, ok := before[key]; ok && si < len(b.Segments) {
				from = b.Segments[si].Segment
			}
			to := st.Segments[si].Segment
			if from == to {
				continue
			}
			moved++
			if key == newcomer && from != "" {
				t.Fatalf("new customer %s had segment %s before it existed", key, from)
			}
			for _, dest := range dests {
				k := kernel.IdempotencyKey(rs.Name, "sync."+seg+"/"+dest, key, day(1))
				a, ok := got[k]
				if !ok {
					t.Fatalf("customer %s moved in %s from %q to %q but no sync to %s was queued (key %s)", key, seg, from, to, dest, k)
				}
				e.checkSync(rs, a, seg, dest, key, from, to, day(1))
			}
		}
		if seg == "source" && moved < len(after)/2 {
			t.Fatalf("the shift moved only %d of %d customers in source", moved, len(after))
		}
		if len(got) != moved*len(dests) {
			t.Fatalf("%d customers moved in %s, %d destinations; %d sync actions queued", moved, seg, len(dests), len(got))
		}
	}
	total := len(e.queue(kernel.ActionFilter{RuleSet: rs.Name}))

	e.applyAt(rs, day(1), o)
	if got := len(e.queue(kernel.ActionFilter{RuleSet: rs.Name})); got != total {
		t.Fatalf("a rerun as of the same day queued %d actions, had %d", got, total)
	}

	// A leave, staged by two tries of a run as of one day: synced once.
	const gone = "7"
	info := jobs.RunInfo{RuleSet: rs.Name, RulesHash: rs.Hash, AsOf: day(2), Started: day(2)}
	for try := range 2 {
		id, err := e.s.StartRun(ctx, info, "apply")
		if err != nil {
			t.Fatal(err)
		}
		info.ID = id
		tx, err := e.s.BeginApply(ctx, rs, info)
		if err != nil {
			t.Fatal(err)
		}
		ev := left(rs, gone, after[gone], day(3))
		ev.Sync = sync
		stage(t, tx, []jobs.Evaluated{ev})
		if err := tx.Commit(ctx, jobs.RunSummary{Status: jobs.StatusSucceeded, Finished: day(2), Changed: 1, Actions: 1}); err != nil {
			t.Fatalf("commit leave, try %d: %v", try, err)
		}
	}
	for seg, dests := range sync {
		si := segmentation(rs, seg)
		got := e.syncOf(rs, seg)
		for _, dest := range dests {
			a, ok := got[kernel.IdempotencyKey(rs.Name, "sync."+seg+"/"+dest, gone, day(2))]
			if !ok {
				t.Fatalf("customer %s left %s but no sync to %s was queued", gone, seg, dest)
			}
			e.checkSync(rs, a, seg, dest, gone, after[gone].Segments[si].Segment, "", day(2))
		}
	}
}

// A first run queues no sync actions, as it queues no others, unless
// InitialActions is set: then every customer's first segment is synced,
// from null.
func testStateSyncInitial(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 30)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	o.InitialActions = true
	o.Sync = map[string][]string{"source": {"crm"}}
	e.applyAt(rs, day(0), o)
	st := e.states(rs)
	si := segmentation(rs, "source")
	got := e.syncOf(rs, "source")
	if len(got) != 30 {
		t.Fatalf("a first run with initial actions queued %d sync actions for 30 customers, want 30", len(got))
	}
	for key, s := range st {
		a, ok := got[kernel.IdempotencyKey(rs.Name, "sync.source/crm", key, day(0))]
		if !ok {
			t.Fatalf("customer %s: no sync of its first segment", key)
		}
		e.checkSync(rs, a, "source", "crm", key, "", s.Segments[si].Segment, day(0))
	}
}
