package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// stateExplainRunCases are the cases of what explain --run reads.
var stateExplainRunCases = []stateCase{
	{"customer record: assignments with the run that wrote them, history and queue rows by id", testCustomerRecord},
	{"explain --run: the state rebuilt before each run gives what it recorded, until the facts change", testExplainRunAgrees},
}

// RunExplainRun runs the explain --run cases against stores from
// newStore, as RunState runs the others. The store must be a
// jobs.CustomerRecordReader.
func RunExplainRun(t *testing.T, newStore func(t *testing.T) StateBackend) {
	for _, c := range stateExplainRunCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStore)
		})
	}
}

// explainRunEnv applies the retail example four times: as of day 0;
// after the shift as of day 1 (moves and actions); after every big
// spender's spend fell to 5 as of day 2 (downgrade graces start, without
// a move); and with the same facts as of day 40 (key customers' graces
// have run out: they move down). It returns the four run ids.
func explainRunEnv(t *testing.T, ns func(t *testing.T) StateBackend) (*stateEnv, *rules.RuleSet, []int64) {
	e := newStateEnv(t, ns, 200)
	rs := RetailRuleSet(t)
	o := Options()
	o.Guard.AllowLarge = true
	ids := []int64{e.applyAt(rs, day(0), o).RunID}
	e.f.shift()
	ids = append(ids, e.applyAt(rs, day(1), o).RunID)
	e.f.update(func(c *Customer) {
		if c.Spend >= 10000 {
			c.Spend = 5
		}
	})
	ids = append(ids, e.applyAt(rs, day(2), o).RunID)
	ids = append(ids, e.applyAt(rs, day(40), o).RunID)
	return e, rs, ids
}

// record reads a customer's record, which the store must be able to.
func (e *stateEnv) record(ruleset, key string) *jobs.CustomerRecord {
	e.t.Helper()
	rec, err := jobs.ReadCustomerRecord(context.Background(), e.s, ruleset, key)
	if err != nil {
		e.t.Fatal(err)
	}
	return rec
}

// The record holds the customer's history and queue rows as History and
// Actions list them, ordered by id, and each current assignment as the
// state has it, with the run that last wrote it: the run of its last
// move, or the one that started its grace. An unknown customer, or one
// of another rule set, has an empty record.
func testCustomerRecord(t *testing.T, ns func(t *testing.T) StateBackend) {
	e, rs, ids := explainRunEnv(t, ns)
	st := e.states(rs)
	graces := 0
	for _, key := range e.f.keys() {
		rec := e.record(retailName, key)
		var moves []jobs.RecordedMove
		for _, h := range e.history(retailName, key) {
			m := jobs.RecordedMove{ID: h.ID, Segmentation: h.Segmentation, To: h.To, Matched: h.Matched, Reason: h.Reason, AsOf: h.AsOf, RunID: h.RunID}
			if h.From != nil {
				m.From = *h.From
			}
			moves = append(moves, m)
		}
		if !slices.EqualFunc(rec.Moves, moves, sameMove) {
			t.Fatalf("customer %s: the record's moves\n%+v\nwant the history\n%+v", key, rec.Moves, moves)
		}
		queue := e.queue(kernel.ActionFilter{RuleSet: retailName, Customer: key})
		slices.SortFunc(queue, func(a, b kernel.QueuedAction) int { return int(a.ID - b.ID) })
		if !slices.EqualFunc(rec.Actions, queue, sameQueued) {
			t.Fatalf("customer %s: the record's actions\n%+v\nwant the queue\n%+v", key, rec.Actions, queue)
		}
		graces += checkAssignments(t, rs, key, rec, st[key].Segments, ids)
	}
	if graces == 0 {
		t.Fatal("no customer's downgrade grace started on day 2: the case lost its point")
	}
	for _, rec := range []*jobs.CustomerRecord{e.record(retailName, "no-such-customer"), e.record(copyName, "1")} {
		if len(rec.Assignments)+len(rec.Moves)+len(rec.Actions) != 0 {
			t.Fatalf("record of an unknown customer: %+v, want it empty", rec)
		}
	}
}

func sameMove(a, b jobs.RecordedMove) bool {
	return a.ID == b.ID && a.Segmentation == b.Segmentation && a.From == b.From && a.To == b.To && a.Matched == b.Matched &&
		a.Reason == b.Reason && a.AsOf.Equal(b.AsOf) && a.RunID == b.RunID
}

func sameQueued(a jobs.RecordedAction, q kernel.QueuedAction) bool {
	at := time.Time{}
	if q.OutcomeAt != nil {
		at = *q.OutcomeAt
	}
	return a.ID == q.ID && a.Action == q.Action && a.Status == q.Status && a.Priority == q.Priority && a.Created.Equal(q.CreatedAt) &&
		a.Due.Equal(q.DueAt) && a.RunID == q.RunID && a.Outcome == q.Outcome && a.OutcomeAt.Equal(at) && a.Note == q.Note &&
		sameJSON(a.Payload, q.Payload)
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// checkAssignments checks a customer's recorded assignments against the
// state and returns how many are pending since day 2.
func checkAssignments(t *testing.T, rs *rules.RuleSet, key string, rec *jobs.CustomerRecord, state []engine.Assignment, ids []int64) int {
	t.Helper()
	if len(rec.Assignments) != len(rs.Segmentations) {
		t.Fatalf("customer %s: %d recorded assignments, want one per segmentation: %+v", key, len(rec.Assignments), rec.Assignments)
	}
	graces := 0
	for i, a := range rec.Assignments {
		k := segmentation(rs, a.Segmentation)
		if k < 0 || (i > 0 && a.Segmentation <= rec.Assignments[i-1].Segmentation) {
			t.Fatalf("customer %s: assignments %+v, want the rule set's segmentations by name", key, rec.Assignments)
		}
		if s := state[k]; a.Segment != s.Segment || !a.Since.Equal(s.Since) || !a.PendingSince.Equal(s.PendingSince) {
			t.Fatalf("customer %s: recorded assignment %+v, the state has %+v", key, a, s)
		}
		want := int64(0) // the run of the last move
		for _, m := range rec.Moves {
			if m.Segmentation == a.Segmentation {
				want = m.RunID
			}
		}
		if a.PendingSince.Equal(day(2)) {
			want = ids[2]
			graces++
		}
		if a.RunID != want {
			t.Fatalf("customer %s: assignment %+v written by run %d, want run %d", key, a, a.RunID, want)
		}
	}
	return graces
}

// ref is the run record of run id as ExplainRun takes it; the first run
// of the case is the rule set's first.
func (e *stateEnv) ref(id, first int64) jobs.RunRef {
	r := e.runByID(id)
	return jobs.RunRef{ID: r.ID, RuleSet: r.RuleSet, RulesHash: r.RulesHash, AsOf: r.AsOf, Status: jobs.Status(r.Status),
		Initial: id == first, Actions: r.Actions}
}

// The state rebuilt before each run, evaluated at its as-of, gives every
// customer exactly what the run recorded while the facts are those the
// run read (the last two runs read the same facts), even where a later
// run rewrote the assignments, started or ended a grace. With the facts
// changed since, the run's record and the evaluation part: the channel
// of every customer changed after the first run, the spend of the big
// spenders after the second.
func testExplainRunAgrees(t *testing.T, ns func(t *testing.T) StateBackend) {
	e, rs, ids := explainRunEnv(t, ns)
	ctx := context.Background()
	moved := map[int64]int{}
	parted := 0 // customers whose spend changed, and whose second run's evaluation differs
	for _, key := range e.f.keys() {
		rec := e.record(retailName, key)
		c, _ := e.f.customer(key)
		for i, id := range ids {
			x, err := jobs.ExplainRun(ctx, rec, e.f, rs, e.ref(id, ids[0]), key)
			if err != nil {
				t.Fatalf("customer %s, run %d: %v", key, id, err)
			}
			moved[id] += len(x.Recorded.Moves)
			spent := i == 1 && c.Spend == 5
			if spent && x.Verdict == jobs.VerdictDiffers {
				parted++
			}
			if want := jobs.VerdictAgrees; i == 0 && x.Verdict != jobs.VerdictDiffers || i > 0 && !spent && x.Verdict != want {
				t.Fatalf("customer %s, run %d: verdict %s; recorded %+v, evaluated %+v, notes %q", key, id, x.Verdict, x.Recorded, x.Evaluated, x.Notes)
			}
		}
	}
	for _, id := range ids {
		if moved[id] == 0 {
			t.Fatalf("run %d recorded no move of any customer: the case lost its point (%v)", id, moved)
		}
	}
	if parted == 0 {
		t.Fatal("no big spender's second run evaluates otherwise with their new spend: the case lost its point")
	}
}
