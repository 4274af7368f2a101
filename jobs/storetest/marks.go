package storetest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/factdigest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

var stateMarkCases = []stateCase{
	{"an apply keeps each customer's wake-up time and facts digest", testStateMarks},
}

var markCases = []testCase{
	{"an apply keeps each customer's wake-up time and facts digest, read joined to the facts", testMarks},
}

// nightOptions are the options of the cases that apply over many
// nights: no guard, and actions from the first run on.
func nightOptions() jobs.Options {
	o := Options()
	o.Guard.AllowLarge = true
	o.InitialActions = true
	return o
}

func testStateMarks(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 300)
	checkMarks(t, e.s, e.f, func(rs *rules.RuleSet, at time.Time) { e.applyAt(rs, at, nightOptions()) }, func() {
		e.f.update(func(c *Customer) {
			if c.ID%7 == 0 {
				c.Spend++
			}
		})
	})
}

func testMarks(t *testing.T, nb func(t *testing.T) Backend) {
	e := newEnv(t, nb, 300)
	checkMarks(t, e.s, e.f, func(rs *rules.RuleSet, at time.Time) { e.applyAt(rs, at, nightOptions()) }, func() {
		e.exec(`UPDATE customer_facts SET spend_12m = spend_12m + 1 WHERE customer_id % 7 = 0`)
	})
}

// Over three nights (the facts of every seventh customer changed before
// the third), each apply leaves every customer it read with the mark of
// its evaluation: the engine's wake-up time for the customer, evaluated
// at the apply's as-of from the facts and state the apply read, as
// engine.StoredWake keeps it, and the digest of those facts (the one the
// snapshot computed where the store digests in SQL). The digests
// change for the customers whose facts changed, and only for them; and
// the nights include customers who wake at a time, on every run and
// never, so that each kind is stored and read back.
//
// apply applies a rule set to store s, whose facts source is f; bump
// changes the facts of every seventh customer.
func checkMarks(t *testing.T, s jobs.StateStore, f jobs.FactsSource, apply func(rs *rules.RuleSet, at time.Time), bump func()) {
	rs := RetailRuleSet(t)
	e := engine.New(rs)
	h := factdigest.New()
	kinds := map[string]int{}
	var prev map[string]engine.Customer
	for night, at := range []time.Time{day(0), day(1), day(2)} {
		if night == 2 {
			bump()
		}
		before := snapshotCustomers(t, s, f, rs, at)
		apply(rs, at)
		after := snapshotCustomers(t, s, f, rs, at)
		var res engine.Result
		for k, c := range before {
			if c.Absent {
				continue
			}
			e.EvaluateInto(at, &c, &res)
			want := engine.Mark{Wake: engine.StoredWake(res.Wake, at)}
			if len(c.FactErrors) > 0 {
				want = engine.Mark{Wake: engine.EveryRun}
			} else if c.FactsDigest != 0 {
				want.Digest = c.FactsDigest // the store digests facts in SQL
			} else {
				d, err := h.Sum(c.Facts)
				if err != nil {
					t.Fatal(err)
				}
				want.Digest = d
			}
			got := after[k].State.Mark
			if !got.Wake.Equal(want.Wake) || got.Digest != want.Digest {
				t.Fatalf("night %d, customer %s: mark %v %x after the apply, want %v %x", night, k, got.Wake, got.Digest, want.Wake, want.Digest)
			}
			switch {
			case want.Wake.IsZero():
				kinds["never"]++
			case want.Wake.Equal(engine.EveryRun):
				kinds["every run"]++
			default:
				kinds["at a time"]++
			}
		}
		if night == 2 {
			changed := 0
			for k, c := range after {
				id, err := strconv.Atoi(k)
				if err != nil {
					t.Fatal(err)
				}
				moved := c.State.Mark.Digest != prev[k].State.Mark.Digest
				if moved != (id%7 == 0) {
					t.Fatalf("customer %s: digest %x, before the facts changed %x; want a new one only for every seventh customer", k, c.State.Mark.Digest, prev[k].State.Mark.Digest)
				}
				if moved {
					changed++
				}
			}
			if changed == 0 {
				t.Fatal("no customer's digest changed with its facts")
			}
		}
		prev = after
	}
	for _, k := range []string{"never", "every run", "at a time"} {
		if kinds[k] == 0 {
			t.Errorf("no customer wakes %s (%v): the case does not store every kind of wake-up time", k, kinds)
		}
	}
}

// snapshotCustomers reads every customer as a run of rs at at reads it
// from s with facts f: facts and state, joined in one query where s can.
func snapshotCustomers(t *testing.T, s jobs.StateStore, f jobs.FactsSource, rs *rules.RuleSet, at time.Time) map[string]engine.Customer {
	t.Helper()
	ctx := t.Context()
	snap, err := jobs.OpenSnapshot(ctx, s, f, rs, jobs.At(at))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	out := map[string]engine.Customer{}
	err = snap.Stream(ctx, 100, func(batch []engine.Customer) error {
		for _, c := range batch {
			out[c.Key] = c
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var stateNightCases = []stateCase{
	{"sixty nights: customers asleep by their marks are those whose evaluation changes nothing", testStateNights},
}

// Sixty nights of the retail example, one apply every third day, with
// new orders for every 11th customer on every fifth apply and spend
// falling for every 13th on every seventh: customers cross the new and
// churned thresholds, wake for cooldowns, graces and coverage, and get
// new facts. After every apply no customer whom the marks call asleep
// was changed by its evaluation (applyAt fails on drift), and the marks
// are worth checking: over the nights most customers sleep, and some wake
// by time and some by their facts.
func testStateNights(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 300)
	o := nightOptions()
	rs := RetailRuleSet(t)
	var sum jobs.IncrementalReport
	for night := 0; night < 20; night++ {
		at := day(3 * night)
		nightFacts(e.f, night, at)
		r := e.applyAt(rs, at, o).Report.Incremental
		if r == nil {
			t.Fatalf("night %d: the apply has no incremental report", night)
		}
		if night == 0 {
			if r.Full == "" || r.Evaluate != 300 {
				t.Fatalf("night 0: %+v; want a full run of every customer", r)
			}
			continue
		}
		if r.Full != "" {
			t.Fatalf("night %d: a full run (%s) with the same rules and a later as-of", night, r.Full)
		}
		if r.Evaluate+r.Asleep != 300 || r.Evaluate != r.Left+r.New+r.Changed+r.Waking+r.FollowUps {
			t.Fatalf("night %d: %+v does not add up to the 300 customers", night, r)
		}
		sum.Evaluate, sum.Asleep, sum.Waking, sum.Changed = sum.Evaluate+r.Evaluate, sum.Asleep+r.Asleep, sum.Waking+r.Waking, sum.Changed+r.Changed
	}
	t.Logf("customer-nights after the first: %d asleep, %d to evaluate (%d waking, %d changed)", sum.Asleep, sum.Evaluate, sum.Waking, sum.Changed)
	if sum.Asleep < sum.Evaluate || sum.Waking == 0 || sum.Changed == 0 {
		t.Errorf("over the nights %+v: want most customer-nights asleep, and some waking and some changed", sum)
	}
}

var stateIncrementalCases = []stateCase{
	{"incremental runs leave the state, history, queue and report of full runs", testStateIncremental},
}

// WithoutCoverage are the edits (RetailRuleSet's replace pairs) that take
// the retail example's coverage targets out, whose standing every run
// counts for every customer: account_review fires after 60 days in a VIP
// or key segment instead of when the target is overdue. What is left is
// a rule set incremental runs can skip customers of.
var WithoutCoverage = []string{
	"        coverage: {every: 28d, by: [account_review, vip_care_visit, winback_call], counts: [reached, converted]}\n", "",
	"        coverage: {every: 90d, by: [account_review, winback_call], counts: [reached, converted]}\n", "",
	`overdue("value_tier")`, `days_in("value_tier") > 60`,
	"      days_since_covered: =days_since_covered(\"value_tier\")\n", "",
}

// retailWithoutCoverage is RetailRuleSet with WithoutCoverage.
func retailWithoutCoverage(t testing.TB) *rules.RuleSet { return RetailRuleSet(t, WithoutCoverage...) }

// Two stores, the same facts night after night (the nights of
// testStateNights): one applied with jobs.Options.Incremental, which
// leaves asleep customers unevaluated, one with every customer evaluated.
// After every night both hold the same state (marks included), history and
// queue, and their reports give the same sizes, moves, actions and
// guards; the incremental one skipped most customers.
func testStateIncremental(t *testing.T, ns func(t *testing.T) StateBackend) {
	rs := retailWithoutCoverage(t)
	if rs.HasCoverage() {
		t.Fatal("the retail example without coverage targets still has one")
	}
	full, incr := newStateEnv(t, ns, 300), newStateEnv(t, ns, 300)
	o, oi := nightOptions(), nightOptions()
	oi.Incremental = true
	skipped, evaluated := 0, 0
	for night := 0; night < 20; night++ {
		at := day(3 * night)
		for _, e := range []*stateEnv{full, incr} {
			nightFacts(e.f, night, at)
		}
		rf, ri := full.applyAt(rs, at, o).Report, incr.applyAt(rs, at, oi).Report
		if f, i := reportFigures(t, rf), reportFigures(t, ri); f != i {
			t.Fatalf("night %d: the incremental report\n%s\nwant the full run's\n%s", night, i, f)
		}
		if rf.Incremental.Skipped != 0 {
			t.Fatalf("night %d: a run without Incremental skipped %d customers", night, rf.Incremental.Skipped)
		}
		skipped, evaluated = skipped+ri.Incremental.Skipped, evaluated+ri.Customers-ri.Incremental.Skipped
		fv, iv := full.view(rs, false), incr.view(rs, false)
		for part, want := range fv {
			if iv[part] != want {
				t.Fatalf("night %d: the incremental store's %s differs from the full one's:\n%s\nwant\n%s", night, part, iv[part], want)
			}
		}
		sameStates(t, fmt.Sprintf("night %d", night), full.states(rs), incr.states(rs))
	}
	t.Logf("incremental: %d customer-nights skipped, %d evaluated", skipped, evaluated)
	if skipped <= evaluated {
		t.Errorf("the incremental runs skipped %d customer-nights and evaluated %d: want most skipped", skipped, evaluated)
	}
}

// nightFacts changes the facts of m before night number night (at at):
// new orders for every 11th customer on every fifth night, spend halved
// for every 13th on every seventh.
func nightFacts(m *memFacts, night int, at time.Time) {
	if night > 0 && night%5 == 0 {
		m.update(func(c *Customer) {
			if c.ID%11 == 0 {
				c.LastOrder, c.Orders, c.Spend = at.Add(-time.Hour).Format(time.RFC3339), c.Orders+1, c.Spend+120
			}
		})
	}
	if night > 0 && night%7 == 0 {
		m.update(func(c *Customer) {
			if c.ID%13 == 0 {
				c.Spend /= 2
			}
		})
	}
}

// reportFigures are the figures of a report that do not depend on which
// customers a run evaluated: customers, changes, segment sizes and moves,
// actions, errors, guard and quality, as JSON.
func reportFigures(t *testing.T, r *jobs.PlanReport) string {
	t.Helper()
	b, err := json.MarshalIndent(struct {
		Customers, Changed, ActionsTotal int
		Segmentations                    []jobs.SegmentationReport
		Actions                          []jobs.ActionReport
		Errors                           int
		Guard                            jobs.GuardReport
		Quality                          *jobs.QualityReport
	}{r.Customers, r.Changed, r.ActionsTotal, r.Segmentations, r.Actions, r.Errors.Customers, r.Guard, r.Quality}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameStates fails unless every customer of want has the same state in
// got: segments with their dates, last actions and mark.
func sameStates(t *testing.T, when string, want, got map[string]engine.State) {
	t.Helper()
	sameStatesAt(t, when, time.Time{}, want, got)
}

// sameStatesAt is sameStates of an incremental run at as-of at in which
// the database may have decided who is unchanged (at is zero if not):
// the customers it left unread keep their marks, which may differ from
// the full run's only in a way that makes the next run read them again,
// a digest unlike the facts' or a wake-up time that has come.
func sameStatesAt(t *testing.T, when string, at time.Time, want, got map[string]engine.State) {
	t.Helper()
	for k, w := range want {
		g := got[k]
		mark := g.Mark.Equal(w.Mark) ||
			!at.IsZero() && (g.Mark.Digest != w.Mark.Digest || !g.Mark.Wake.IsZero() && !g.Mark.Wake.After(at))
		same := len(g.Segments) == len(w.Segments) && len(g.LastActions) == len(w.LastActions) && mark
		for i := 0; same && i < len(w.Segments); i++ {
			same = sameAssignment(g.Segments[i], w.Segments[i])
		}
		for i := 0; same && i < len(w.LastActions); i++ {
			same = g.LastActions[i].Equal(w.LastActions[i])
		}
		if !same {
			t.Fatalf("%s: customer %s: state %+v after the incremental run, %+v after the full one", when, k, g, w)
		}
	}
}
