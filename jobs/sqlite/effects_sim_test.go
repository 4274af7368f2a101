package sqlite

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// quarterRules is a lifecycle by days since the last order, with churn
// declared, and a win-back call on entering at_risk that holds out 30%
// of the customers it fires for, at 5 a call, once a year at most.
const quarterRules = `
ruleset: quarter
facts:
  last_order_at: time
segmentations:
  - name: lifecycle
    segments:
      - {name: churned, when: days_since(last_order_at) > 60}
      - {name: at_risk, when: days_since(last_order_at) > 30}
      - {name: active, fallback: true}
churn: lifecycle.churned
actions:
  - name: winback_call
    when: entered("lifecycle", "at_risk")
    holdout: 30%
    cost: 5
    cooldown: 365d
    outcomes: [reached, no_answer]
`

// quarterModel is how the simulated customers behave. An active customer
// orders on any day with probability Order. One who has not ordered for
// 31 days enters at_risk, and tierflow calls it or holds it out: it then
// orders once more within 29 days with probability Called if the call
// was queued, and NotCalled otherwise (held out, or not called again
// within the cooldown), and never again if not, so that it churns 30
// days after entering at_risk. A customer that ordered again goes back
// to ordering at random.
type quarterModel struct {
	Customers int
	Days      int // nightly runs after the first, one a day
	Order     float64
	Called    float64
	NotCalled float64
	Seed      uint64
}

// effect is the model's own difference in the churned share 60 days
// after the call (treated - held out): a customer that does not order
// again is churned then, one that did is not.
func (m quarterModel) effect() float64 { return (1 - m.Called) - (1 - m.NotCalled) }

// simCustomer is one customer's simulated life; its random numbers come
// from its own PCG stream, keyed by the model's seed and its number.
type simCustomer struct {
	key  string
	rng  *rand.Rand
	last int // day of the last order
	// plan is the day of the one order an at-risk customer places, -1
	// when it places none (it lapsed) or is ordering at random.
	plan   int
	lapsed bool
	// entered is the day it first entered at_risk (-1: never), group the
	// call's status then, and churned whether it was churned 60 days
	// later: the ground truth the report must find.
	entered int
	group   string
	churned bool
}

// quarterSim is the simulation: the customers, and the facts they show
// on each day's run.
type quarterSim struct {
	m     quarterModel
	cs    []simCustomer
	start time.Time
}

func newQuarterSim(m quarterModel, start time.Time) *quarterSim {
	s := &quarterSim{m: m, start: start, cs: make([]simCustomer, m.Customers)}
	for i := range s.cs {
		c := &s.cs[i]
		c.key, c.rng = strconv.Itoa(i+1), rand.New(rand.NewPCG(m.Seed, uint64(i+1)))
		c.last, c.plan, c.entered = -c.rng.IntN(15), -1, -1
	}
	return s
}

func (s *quarterSim) day(n int) time.Time { return s.start.AddDate(0, 0, n) }

// order places day d's orders, before its run.
func (s *quarterSim) order(d int) {
	for i := range s.cs {
		c := &s.cs[i]
		switch {
		case c.plan == d:
			c.last, c.plan = d, -1
		case c.plan < 0 && !c.lapsed && d-c.last <= 30 && c.rng.Float64() < s.m.Order:
			c.last = d
		}
		if c.entered >= 0 && d == c.entered+60 {
			c.churned = d-c.last > 60
		}
	}
}

// react draws what the customers who entered at_risk on day d's run do,
// by whether that run queued a call for them. It returns how many
// entered for the first time.
func (s *quarterSim) react(d int, calls map[string]simCall) (entered int) {
	for i := range s.cs {
		c := &s.cs[i]
		if c.plan >= 0 || c.lapsed || d-c.last != 31 {
			continue
		}
		status := calls[c.key].status
		if c.entered < 0 {
			c.entered, c.group = d, status
			entered++
		}
		p := s.m.NotCalled
		if status == jobs.ActionPending {
			p = s.m.Called
		}
		if c.rng.Float64() < p {
			c.plan = d + 1 + c.rng.IntN(29)
		} else {
			c.lapsed = true
		}
	}
	return entered
}

// OpenFacts shows every customer's last order as of now.
func (s *quarterSim) OpenFacts(ctx context.Context, rs *rules.RuleSet) (jobs.FactsReader, error) {
	rows := make([]engine.Customer, len(s.cs))
	for i := range s.cs {
		rows[i] = engine.Customer{Key: s.cs[i].key, Facts: []any{s.day(s.cs[i].last)}}
	}
	return &simReader{rows: rows}, ctx.Err()
}

type simReader struct{ rows []engine.Customer }

func (r *simReader) Count(context.Context) (int64, error) { return int64(len(r.rows)), nil }
func (r *simReader) Close() error                         { return nil }

func (r *simReader) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	for from := 0; from < len(r.rows); from += batchSize {
		to := min(from+batchSize, len(r.rows))
		if err := fn(r.rows[from:to:to]); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// simCall is one win-back call a run decided.
type simCall struct {
	id     int64
	status string
}

// calls returns the win-back calls day d's run decided, by customer.
func (s *quarterSim) calls(t *testing.T, st *Store, rs *rules.RuleSet, d int) map[string]simCall {
	t.Helper()
	rows, err := st.ro.Query(`SELECT id, customer_key, status FROM main.actions WHERE ruleset = $1 AND created_at = $2`,
		rs.Name, formatTime(s.day(d)))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]simCall{}
	for rows.Next() {
		var c simCall
		var key string
		if err := rows.Scan(&c.id, &key, &c.status); err != nil {
			t.Fatal(err)
		}
		out[key] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// report records the outcome of each call day d queued, as the person
// making it would the next day: reached when the customer is going to
// order again, no_answer when not. It returns how many it recorded.
func (s *quarterSim) report(t *testing.T, st *Store, rs *rules.RuleSet, d int, calls map[string]simCall) int {
	t.Helper()
	n := 0
	for i := range s.cs {
		c := &s.cs[i]
		call, ok := calls[c.key]
		if !ok || call.status != jobs.ActionPending {
			continue
		}
		r := jobs.OutcomeReport{ID: call.id, Status: jobs.ActionDone, Outcome: "no_answer", At: s.day(d + 1)}
		if c.plan >= 0 {
			r.Outcome = "reached"
		}
		if _, err := jobs.RecordOutcome(context.Background(), st, func(string) *rules.RuleSet { return rs }, r); err != nil {
			t.Fatalf("day %d: %v", d, err)
		}
		n++
	}
	return n
}

// quarterResult is what a simulated quarter's report says of the call
// 60 days after it, and the ground truth.
type quarterResult struct {
	effect              jobs.TreatmentEffect
	treated, heldOut    int
	churnedT, churnedH  int
	decisions, outcomes int
	took                time.Duration
}

// runQuarter simulates m on a new SQLite store, one apply a night, and
// builds the effects report at 60 days.
func runQuarter(t *testing.T, m quarterModel) quarterResult {
	t.Helper()
	ctx := context.Background()
	started := time.Now()
	st := openStore(t, filepath.Join(memDir(t), "quarter.db"), nil).Store
	if _, err := st.Migrate(ctx, false); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Compile("quarter.yaml", []byte(quarterRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a := rs.Actions[0]; a.Holdout.BasisPoints != 3000 || a.Cost != 5 || rs.Churn == nil {
		t.Fatalf("the rule file's holdout %d, cost %v, churn %v: want 3000, 5, lifecycle.churned", a.Holdout.BasisPoints, a.Cost, rs.Churn)
	}
	sim := newQuarterSim(m, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	var res quarterResult
	for d := 0; d <= m.Days; d++ {
		if d > 0 {
			sim.order(d)
		}
		if _, err := jobs.Apply(ctx, st, sim, rs, jobs.Options{AsOf: sim.day(d), Workers: 2, BatchSize: 1000}); err != nil {
			t.Fatalf("day %d: %v", d, err)
		}
		calls := sim.calls(t, st, rs, d)
		if entered := sim.react(d, calls); entered != len(calls) {
			t.Fatalf("day %d: %d customers entered at_risk for the first time, and the run decided %d calls", d, entered, len(calls))
		}
		res.decisions += len(calls)
		res.outcomes += sim.report(t, st, rs, d, calls)
	}
	rep, err := jobs.Effects(ctx, st, rs, jobs.EffectsOptions{From: sim.day(0), Until: sim.day(m.Days), Latest: sim.day(m.Days), Horizons: []int{60}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rep.Effects {
		if e.Segmentation == "lifecycle" && e.Segment == "at_risk" && e.Horizon == 60 {
			res.effect = e
		}
	}
	for _, c := range sim.cs {
		if c.entered < 0 || c.entered+60 > m.Days {
			continue
		}
		if c.group == jobs.ActionHeldOut {
			res.heldOut++
			res.churnedH += b2i(c.churned)
		} else {
			res.treated++
			res.churnedT += b2i(c.churned)
		}
	}
	res.took = time.Since(started)
	return res
}

// memDir is a new directory in memory (/dev/shm) where there is one,
// and on disk otherwise: the simulation commits some ten thousand
// transactions, whose waits on the disk's flushes are no part of what it
// checks.
func memDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "tierflow-sim-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A simulated quarter: 6,000 customers, 120 nightly runs, calls that
// lift the chance to order again from 20% to 50%. The report, 60 days
// after each call, counts exactly the customers the simulation put in
// each group and churned, and its interval of the churned difference
// holds the model's -30 points and leaves out 0. Without an effect, the
// interval holds 0.
func TestEffectsRecoverSimulatedQuarter(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		m         quarterModel
		effective bool
	}{
		{"calls lower churn", quarterModel{Customers: 6000, Days: 120, Order: 1.0 / 15, Called: 0.5, NotCalled: 0.2, Seed: 13}, true},
		{"calls change nothing", quarterModel{Customers: 2500, Days: 120, Order: 1.0 / 15, Called: 0.3, NotCalled: 0.3, Seed: 14}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := runQuarter(t, c.m)
			e := r.effect
			t.Logf("%v for %d customers, %d runs: %d calls decided, %d outcomes recorded; at 60 days %d treated (%d churned), %d held out (%d churned); churned %.4f - %.4f = %.4f, 95%% CI %.4f to %.4f (model %.2f); cost %.0f, kept per unit %.4f",
				r.took.Round(time.Millisecond), c.m.Customers, c.m.Days+1, r.decisions, r.outcomes, e.Treated, e.Churned.TreatedCount, e.HeldOut, e.Churned.HeldOutCount,
				e.Churned.Treated, e.Churned.HeldOut, e.Churned.Diff, e.Churned.Low, e.Churned.High, c.m.effect(), e.Cost, e.KeptPerCost)
			if e.Treated != r.treated || e.HeldOut != r.heldOut || e.Churned.TreatedCount != r.churnedT || e.Churned.HeldOutCount != r.churnedH {
				t.Errorf("the report counts %d treated (%d churned), %d held out (%d churned); the simulation %d (%d), %d (%d)",
					e.Treated, e.Churned.TreatedCount, e.HeldOut, e.Churned.HeldOutCount, r.treated, r.churnedT, r.heldOut, r.churnedH)
			}
			if !e.Conclusive {
				t.Errorf("inconclusive: %s", e.Note)
			}
			if e.Churned.Excludes(c.m.effect()) {
				t.Errorf("the churned difference's interval %.4f to %.4f leaves out the model's %.4f", e.Churned.Low, e.Churned.High, c.m.effect())
			}
			if e.Churned.Excludes(0) != c.effective {
				t.Errorf("the churned difference's interval %.4f to %.4f: leaves out 0 = %v, want %v", e.Churned.Low, e.Churned.High, !c.effective, c.effective)
			}
		})
	}
}
