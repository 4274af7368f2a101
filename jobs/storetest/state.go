package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// StateStore is what the state-level suite drives: a state store as
// package jobs declares it, with the queries the CLI reads it through.
// Unlike Store it needs no SQL: the in-memory store passes it too.
type StateStore interface {
	jobs.StateStore
	jobs.RunRecorder
	jobs.SlotStore
	History(ctx context.Context, ruleset, customer string) ([]kernel.HistoryEntry, error)
	Actions(ctx context.Context, f kernel.ActionFilter) ([]kernel.QueuedAction, error)
	Runs(ctx context.Context, ruleset string, limit int) ([]kernel.Run, error)
}

// StateBackend is one new state store of the kind under test, migrated
// and empty.
type StateBackend struct {
	Store StateStore
	// Another, when set, opens another store on Store's state with its
	// own connections, as another process or replica would. It is nil
	// when the state cannot be shared (in memory): the cases then use
	// Store for both.
	Another func(t testing.TB) StateStore
}

// RunState runs every state-level case, each against a new store from
// newStore, in parallel. Facts come from a source in memory, so a SQL
// store reads state by key (StateReader), never joined to facts in SQL.
func RunState(t *testing.T, newStore func(t *testing.T) StateBackend) {
	for _, c := range stateCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStore)
		})
	}
}

type stateCase struct {
	name string
	run  func(t *testing.T, newStore func(t *testing.T) StateBackend)
}

// stateCases are the state-level cases, grouped by what they cover.
var stateCases = concatState(stateApplyCases, stateTxCases, stateSlotCases, statePopulationCases, stateLeftCases, stateKeysCases, stateQueueCases, stateSyncCases,
	stateFollowUpCases, stateLayoutCases, stateMarkCases, stateNightCases, stateCDNOWCases, stateIncrementalCases)

func concatState(groups ...[]stateCase) []stateCase {
	var out []stateCase
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// stateEnv is one case's store and the facts it reads.
type stateEnv struct {
	t *testing.T
	b StateBackend
	s StateStore
	f *memFacts
}

// newStateEnv makes a new store with generated customers 1 to n.
func newStateEnv(t *testing.T, newStore func(t *testing.T) StateBackend, n int) *stateEnv {
	t.Helper()
	b := newStore(t)
	return &stateEnv{t: t, b: b, s: b.Store, f: newMemFacts(n)}
}

// another is a second store on the case's state: a new one when the
// backend can open one, the same otherwise.
func (e *stateEnv) another() StateStore {
	if e.b.Another == nil {
		return e.s
	}
	return e.b.Another(e.t)
}

// applyAt runs an apply at the given as-of with o's other options and
// requires it to succeed.
func (e *stateEnv) applyAt(rs *rules.RuleSet, at time.Time, o jobs.Options) *jobs.Outcome {
	e.t.Helper()
	o.AsOf = at
	out, err := jobs.Apply(context.Background(), e.s, e.f, rs, o)
	if err != nil {
		e.t.Fatalf("apply as of %s: %v", at.Format(time.DateOnly), err)
	}
	checkDrift(e.t, out, at)
	return out
}

// planAt runs a plan at the given as-of.
func (e *stateEnv) planAt(rs *rules.RuleSet, at time.Time, o jobs.Options) *jobs.PlanReport {
	e.t.Helper()
	o.AsOf = at
	out, err := jobs.Plan(context.Background(), e.s, e.f, rs, o)
	if err != nil {
		e.t.Fatalf("plan as of %s: %v", at.Format(time.DateOnly), err)
	}
	return out.Report
}

// runs lists every run of the rule set ("" all), newest first.
func (e *stateEnv) runs(ruleset string) []kernel.Run {
	e.t.Helper()
	rs, err := e.s.Runs(context.Background(), ruleset, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

// runByID returns the run record with the given id.
func (e *stateEnv) runByID(id int64) kernel.Run {
	e.t.Helper()
	for _, r := range e.runs("") {
		if r.ID == id {
			return r
		}
	}
	e.t.Fatalf("no run %d in the run record", id)
	return kernel.Run{}
}

// runStatuses counts the runs by status.
func (e *stateEnv) runStatuses() map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for _, r := range e.runs("") {
		out[r.Status]++
	}
	return out
}

// queue returns every queued action of every rule set, most urgent
// first.
func (e *stateEnv) queue(f kernel.ActionFilter) []kernel.QueuedAction {
	e.t.Helper()
	if f.Limit == 0 {
		f.Limit = 1 << 20
	}
	q, err := e.s.Actions(context.Background(), f)
	if err != nil {
		e.t.Fatal(err)
	}
	return q
}

// history returns a customer's moves in the rule set ("" all).
func (e *stateEnv) history(ruleset, key string) []kernel.HistoryEntry {
	e.t.Helper()
	h, err := e.s.History(context.Background(), ruleset, key)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// samePlan fails unless a plan predicted what an apply did.
func samePlan(t *testing.T, p, a *jobs.PlanReport) {
	t.Helper()
	if p.Changed != a.Changed || p.ActionsTotal != a.ActionsTotal || p.Customers != a.Customers || p.Initial != a.Initial {
		t.Fatalf("plan said changed=%d actions=%d customers=%d initial=%v; the apply did %d, %d, %d, %v",
			p.Changed, p.ActionsTotal, p.Customers, p.Initial, a.Changed, a.ActionsTotal, a.Customers, a.Initial)
	}
	for i, sr := range p.Segmentations {
		ar := a.Segmentations[i]
		if sr.Moved != ar.Moved || len(sr.Moves) != len(ar.Moves) {
			t.Fatalf("%s: the plan moved %d customers (%v), the apply %d (%v)", sr.Name, sr.Moved, sr.Moves, ar.Moved, ar.Moves)
		}
		for j, m := range sr.Moves {
			if m != ar.Moves[j] {
				t.Fatalf("%s: the plan moved %+v, the apply %+v", sr.Name, m, ar.Moves[j])
			}
		}
	}
	for i, act := range p.Actions {
		if act.Count != a.Actions[i].Count {
			t.Fatalf("%s: the plan queued %d, the apply %d", act.Name, act.Count, a.Actions[i].Count)
		}
	}
}
