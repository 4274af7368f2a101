package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// stateEffectsCases are the cases of what effect reports read.
var stateEffectsCases = []stateCase{
	{"effects: decisions and moves stream by key in byte order, with their segments, groups and outcomes", testEffectsStreams},
}

// RunEffects runs the effects cases against stores from newStore, as
// RunState runs the others.
func RunEffects(t *testing.T, newStore func(t *testing.T) StateBackend) {
	for _, c := range stateEffectsCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStore)
		})
	}
}

// effectsKeys are customer keys whose byte order ("10" < "9" < "B" < "Z"
// < "a" < "b" < "é") is neither numeric nor any locale's, where "a"
// sorts before "B".
var effectsKeys = []string{"a", "B", "é", "10", "9", "Z", "b"}

// effectsRules is a lifecycle and a tier; winback_call fires on entering
// at_risk, with a 50% holdout, a cost and an outcome (set by hand: the
// case is about the store, not the rule file).
const effectsRules = `
ruleset: effects
facts: {days: integer}
segmentations:
  - name: lifecycle
    segments:
      - {name: churned, when: days > 60}
      - {name: at_risk, when: days > 30}
      - {name: active, fallback: true}
  - name: tier
    segments:
      - {name: vip, when: days < 0}
      - {name: regular, fallback: true}
actions:
  - name: winback_call
    when: entered("lifecycle", "at_risk")
    cooldown: 365d
`

func effectsRuleSet(t testing.TB) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("effects.yaml", []byte(effectsRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The salt splits the six customers the call fires for three and
	// three.
	rs.Actions[0].Holdout = rules.Holdout{BasisPoints: 5000, Salt: "x"}
	rs.Actions[0].Cost = 2
	rs.Actions[0].Outcomes = []string{"reached"}
	rs.Churn = &rules.SegmentRef{Segmentation: "lifecycle", Segment: "churned"}
	return rs
}

// keyedFacts is a facts source of effectsKeys with days since the last
// order per key, in the order of effectsKeys.
type keyedFacts map[string]int

func (f keyedFacts) OpenFacts(ctx context.Context, rs *rules.RuleSet) (jobs.FactsReader, error) {
	rows := make([]engine.Customer, 0, len(effectsKeys))
	for _, k := range effectsKeys {
		rows = append(rows, engine.Customer{Key: k, Facts: []any{f[k]}})
	}
	return &memReader{rows: rows}, ctx.Err()
}

// effectsSource is the store under test as an EffectsSource.
func effectsSource(t *testing.T, s StateStore) jobs.EffectsSource {
	t.Helper()
	src, ok := s.(jobs.EffectsSource)
	if !ok {
		t.Fatalf("%T cannot read effect reports (jobs.EffectsSource)", s)
	}
	return src
}

// testEffectsStreams applies three days: everyone active on day 0;
// everyone but Z at risk on day 1, where winback_call fires (held out or
// queued by the holdout's hash) and every move queues a segment sync;
// a and é churned on day 2. One queued call is cancelled, another done
// with an outcome.
func testEffectsStreams(t *testing.T, newStore func(t *testing.T) StateBackend) {
	e := newStateEnv(t, newStore, 0)
	src := effectsSource(t, e.s)
	rs := effectsRuleSet(t)
	o := jobs.Options{Workers: 2, BatchSize: 3, Sync: map[string][]string{"lifecycle": {"crm"}}}
	days := keyedFacts{}
	apply := func(day int) {
		o.AsOf = asOf.AddDate(0, 0, day)
		if _, err := jobs.Apply(context.Background(), e.s, days, rs, o); err != nil {
			t.Fatalf("apply day %d: %v", day, err)
		}
	}
	apply(0)
	for _, k := range effectsKeys {
		if k != "Z" {
			days[k] = 40
		}
	}
	apply(1)
	days["a"], days["é"] = 70, 70
	apply(2)

	byteOrder := slices.Sorted(slices.Values(effectsKeys))
	cancelled, reached := changeTwoCalls(t, e, rs, byteOrder)
	want := wantDecisions(rs, byteOrder, cancelled, reached)
	if got := readDecisions(t, src, day(0), day(10)); !reflect.DeepEqual(got, want) {
		t.Errorf("decisions:\n got %v\nwant %v", got, want)
	}
	if got := readDecisions(t, src, day(1), day(1)); !reflect.DeepEqual(got, want) {
		t.Errorf("decisions of [day 1, day 1] (bounds included):\n got %v\nwant %v", got, want)
	}
	if got := readDecisions(t, src, day(2), day(10)); len(got) != 0 {
		t.Errorf("decisions from day 2: %v; want none", got)
	}
	decided := map[string]bool{}
	for _, d := range want {
		decided[d.Customer] = true
	}
	checkMoves(t, src, byteOrder, decided)
	checkEffectsReport(t, src, rs, want)
}

// changeTwoCalls cancels the first queued call (in key order) and, on a
// store that records outcomes, records the next one as reached. It
// returns their customers ("" for none).
func changeTwoCalls(t *testing.T, e *stateEnv, rs *rules.RuleSet, keys []string) (cancelled, reached string) {
	t.Helper()
	ids := map[string]int64{}
	for _, q := range e.queue(kernel.ActionFilter{RuleSet: rs.Name, Action: "winback_call"}) {
		ids[q.Customer] = q.ID
	}
	qs, canQueue := e.s.(QueueStore)
	os, canOutcome := e.s.(jobs.OutcomeStore)
	for _, k := range keys {
		id, ok := ids[k]
		if !ok || rs.Actions[0].Holdout.Holds(rs.Name, "winback_call", k) {
			continue
		}
		switch {
		case cancelled == "" && canQueue:
			if err := qs.CancelAction(context.Background(), id); err != nil {
				t.Fatalf("cancel the call of %s: %v", k, err)
			}
			cancelled = k
		case reached == "" && canOutcome:
			r := jobs.OutcomeReport{ID: id, Status: jobs.ActionDone, Outcome: "reached", At: day(2)}
			if err := os.RecordOutcome(context.Background(), r); err != nil {
				t.Fatalf("record the outcome of %s: %v", k, err)
			}
			reached = k
		}
	}
	return cancelled, reached
}

// decisionRow is what the case compares of an ActionDecision: its id
// differs between stores.
type decisionRow struct {
	Action, Customer, Status, Outcome string
	At                                time.Time
	Segments                          map[string]string
}

func (d decisionRow) String() string {
	return fmt.Sprintf("%s/%s %s %q %s %v", d.Action, d.Customer, d.Status, d.Outcome, d.At.Format(time.DateOnly), d.Segments)
}

// wantDecisions are the day-1 calls of every customer but Z and the
// cancelled one, in key order.
func wantDecisions(rs *rules.RuleSet, keys []string, cancelled, reached string) []decisionRow {
	var out []decisionRow
	for _, k := range keys {
		if k == "Z" || k == cancelled {
			continue
		}
		d := decisionRow{Action: "winback_call", Customer: k, Status: jobs.ActionPending, At: day(1),
			Segments: map[string]string{"lifecycle": "at_risk", "tier": "regular"}}
		if rs.Actions[0].Holdout.Holds(rs.Name, "winback_call", k) {
			d.Status = jobs.ActionHeldOut
		}
		if k == reached {
			d.Status, d.Outcome = jobs.ActionDone, "reached"
		}
		out = append(out, d)
	}
	return out
}

func readDecisions(t *testing.T, src jobs.EffectsSource, from, until time.Time) []decisionRow {
	t.Helper()
	var out []decisionRow
	err := src.Decisions(context.Background(), jobs.EffectsQuery{RuleSet: "effects", From: from, Until: until}, func(d *jobs.ActionDecision) error {
		out = append(out, decisionRow{d.Action, d.Customer, d.Status, d.Outcome, d.At, d.Segments})
		return nil
	})
	if err != nil {
		t.Fatalf("decisions: %v", err)
	}
	return out
}

// checkMoves reads the history from day 0 and from day 2: by key in
// byte order, then as-of, each customer with its moves.
func checkMoves(t *testing.T, src jobs.EffectsSource, keys []string, decided map[string]bool) {
	t.Helper()
	var want []string
	for _, k := range keys {
		if !decided[k] {
			continue // only the moves of customers with a decision
		}
		want = append(want, k+" 0 lifecycle ->active", k+" 0 tier ->regular")
		if k != "Z" {
			want = append(want, k+" 1 lifecycle active->at_risk")
		}
		if k == "a" || k == "é" {
			want = append(want, k+" 2 lifecycle at_risk->churned")
		}
	}
	moves := readMoves(t, src, day(0))
	for i := 1; i < len(moves); i++ {
		a, b := moves[i-1], moves[i]
		if b.Customer < a.Customer || b.Customer == a.Customer && b.At.Before(a.At) {
			t.Errorf("moves out of key and as-of order: %s, then %s", moveText(a), moveText(b))
		}
	}
	// Moves of one customer at one as-of come in id order, which differs
	// between stores: compare them sorted.
	got := movesText(moves)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("moves:\n got %q\nwant %q", got, want)
	}
	if got := readMoves(t, src, day(2)); len(got) != 0 {
		t.Errorf("moves from day 2, when nobody has a decision: %q; want none", movesText(got))
	}
	var none []jobs.HistoryMove
	err := src.Moves(context.Background(), jobs.EffectsQuery{RuleSet: "effects", Actions: []string{"no_such_action"}, From: day(0), Until: day(10)},
		func(m *jobs.HistoryMove) error { none = append(none, *m); return nil })
	if err != nil || len(none) != 0 {
		t.Errorf("moves of the customers of an action nobody got: %q, %v; want none", movesText(none), err)
	}
}

func readMoves(t *testing.T, src jobs.EffectsSource, from time.Time) []jobs.HistoryMove {
	t.Helper()
	var out []jobs.HistoryMove
	err := src.Moves(context.Background(), jobs.EffectsQuery{RuleSet: "effects", From: from, Until: from.AddDate(1, 0, 0)}, func(m *jobs.HistoryMove) error {
		out = append(out, *m)
		return nil
	})
	if err != nil {
		t.Fatalf("moves: %v", err)
	}
	return out
}

// moveText is "KEY DAY SEGMENTATION FROM->TO", DAY counted from asOf.
func moveText(m jobs.HistoryMove) string {
	return fmt.Sprintf("%s %d %s %s->%s", m.Customer, rules.DaysBetween(asOf, m.At), m.Segmentation, m.From, m.To)
}

func movesText(moves []jobs.HistoryMove) []string {
	out := make([]string, len(moves))
	for i, m := range moves {
		out[i] = moveText(m)
	}
	return out
}

// checkEffectsReport runs the report on the store: one day after the
// calls, the customers who churned are counted in their groups.
func checkEffectsReport(t *testing.T, src jobs.EffectsSource, rs *rules.RuleSet, decs []decisionRow) {
	t.Helper()
	rep, err := jobs.Effects(context.Background(), src, rs, jobs.EffectsOptions{From: day(0), Until: day(2), Latest: day(2), Horizons: []int{1}})
	if err != nil {
		t.Fatalf("effects: %v", err)
	}
	var n, churned [2]int
	queued := 0
	for _, d := range decs {
		g := 0
		if d.Status == jobs.ActionHeldOut {
			g = 1
		} else {
			queued++
		}
		n[g]++
		if d.Customer == "a" || d.Customer == "é" {
			churned[g]++
		}
	}
	if len(rep.Effects) != 2 {
		t.Fatalf("effects = %+v; want lifecycle/at_risk and tier/regular at 1 day", rep.Effects)
	}
	for _, eff := range rep.Effects {
		if eff.Treated != n[0] || eff.HeldOut != n[1] || eff.Churned.TreatedCount != churned[0] || eff.Churned.HeldOutCount != churned[1] {
			t.Errorf("%s/%s: %d treated (%d churned), %d held out (%d churned); want %d (%d), %d (%d)", eff.Segmentation, eff.Segment,
				eff.Treated, eff.Churned.TreatedCount, eff.HeldOut, eff.Churned.HeldOutCount, n[0], churned[0], n[1], churned[1])
		}
	}
	if len(rep.Costs) != 2 || rep.Costs[0].Queued != queued || rep.Costs[0].Cost != float64(2*queued) {
		t.Errorf("costs = %+v; want %d calls at 2 in each segmentation", rep.Costs, queued)
	}
}
