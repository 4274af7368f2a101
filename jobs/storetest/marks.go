package storetest

import (
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
// engine.StoredWake keeps it, and the digest of those facts. The digests
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
		if night > 0 && night%5 == 0 {
			e.f.update(func(c *Customer) {
				if c.ID%11 == 0 {
					c.LastOrder, c.Orders, c.Spend = at.Add(-time.Hour).Format(time.RFC3339), c.Orders+1, c.Spend+120
				}
			})
		}
		if night > 0 && night%7 == 0 {
			e.f.update(func(c *Customer) {
				if c.ID%13 == 0 {
					c.Spend /= 2
				}
			})
		}
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
