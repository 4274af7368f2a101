package jobs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// Newcombe's hybrid score interval gives the values of Newcombe (1998),
// table II, method 10, to the four decimals printed there.
func TestNewcombeMatchesPublishedValues(t *testing.T) {
	for _, c := range []struct {
		x1, n1, x2, n2 int
		low, high      float64
	}{
		{56, 70, 48, 80, 0.0524, 0.3339}, // (a)
		{9, 10, 3, 10, 0.1705, 0.8090},   // (b)
		{5, 56, 0, 29, -0.0381, 0.1926},  // (d)
		{0, 10, 0, 20, -0.1611, 0.2775},  // (e)
		{0, 10, 0, 10, -0.2775, 0.2775},  // (f)
		{10, 10, 0, 20, 0.6791, 1},       // (g)
		{10, 10, 0, 10, 0.6075, 1},       // (h)
	} {
		d, low, high := newcombe(c.x1, c.n1, c.x2, c.n2)
		want := float64(c.x1)/float64(c.n1) - float64(c.x2)/float64(c.n2)
		if math.Abs(d-want) > 1e-12 || math.Abs(low-c.low) > 5e-5 || math.Abs(high-c.high) > 5e-5 {
			t.Errorf("%d/%d - %d/%d = %.4f (%.4f to %.4f); want %.4f (%.4f to %.4f)",
				c.x1, c.n1, c.x2, c.n2, d, low, high, want, c.low, c.high)
		}
	}
}

// The Wilson interval is [0, 1] for an empty group, and the difference of
// a comparison with an empty group spans every possible value.
func TestComparisonOfAnEmptyGroup(t *testing.T) {
	if lo, hi := wilson(0, 0); lo != 0 || hi != 1 {
		t.Errorf("wilson(0, 0) = %v, %v; want 0, 1", lo, hi)
	}
	c := compare(3, 4, 0, 0)
	if c.Treated != 0.75 || c.HeldOut != 0 || c.Diff != 0 || c.Low != -1 || c.High != 1 || !c.Excludes(1.5) || c.Excludes(0) {
		t.Errorf("compare(3, 4, 0, 0) = %+v", c)
	}
}

// fakeEffects is an EffectsSource over slices already in customer order.
type fakeEffects struct {
	decs  []ActionDecision
	moves []HistoryMove
	// movesRead counts the moves handed out; failMoves is returned by
	// Moves after them when set.
	movesRead int
	failMoves error
	// allMoves hands out the moves of customers without decisions too.
	allMoves bool
}

func (f *fakeEffects) Decisions(ctx context.Context, q EffectsQuery, fn func(*ActionDecision) error) error {
	for i := range f.decs {
		d := &f.decs[i]
		if !f.selects(q, d) {
			continue
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeEffects) selects(q EffectsQuery, d *ActionDecision) bool {
	return !d.At.Before(q.From) && !d.At.After(q.Until) && (q.Actions == nil || slices.Contains(q.Actions, d.Action))
}

func (f *fakeEffects) Moves(ctx context.Context, q EffectsQuery, fn func(*HistoryMove) error) error {
	decided := map[string]bool{}
	for i := range f.decs {
		if f.selects(q, &f.decs[i]) {
			decided[f.decs[i].Customer] = true
		}
	}
	for i := range f.moves {
		m := &f.moves[i]
		if m.At.Before(q.From) || !decided[m.Customer] && !f.allMoves {
			continue
		}
		f.movesRead++
		if err := fn(m); err != nil {
			return fmt.Errorf("fake moves: %w", err)
		}
	}
	return f.failMoves
}

// effectsRuleSet is a lifecycle (churned first, as rule files rank it)
// and a tier, with winback_call held out for 30% at a cost of 5.
func effectsRuleSet(t testing.TB) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("fx.yaml", []byte(`
ruleset: fx
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
  - name: survey
    when: days == 7
`), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Set by hand: these tests are about the report, not the rule file.
	rs.Actions[0].Holdout = rules.Holdout{BasisPoints: 3000}
	rs.Actions[0].Cost = 5
	rs.Churn = &rules.SegmentRef{Segmentation: "lifecycle", Segment: "churned"}
	return rs
}

var fx0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func fxDay(n int) time.Time { return fx0.AddDate(0, 0, n) }

func decision(customer, status string, day int, segs map[string]string) ActionDecision {
	return ActionDecision{Action: "winback_call", Customer: customer, Status: status, At: fxDay(day), Segments: segs}
}

func move(customer, seg, from, to string, day int) HistoryMove {
	return HistoryMove{Customer: customer, Segmentation: seg, From: from, To: to, At: fxDay(day)}
}

var atRisk = map[string]string{"lifecycle": "at_risk", "tier": "regular"}

// fxSource: a is treated on day 0, churns on day 20, comes back to
// at_risk on day 40 and is treated again; b is held out on day 5 and
// becomes active on day 10; c is held out with no segments recorded
// (queued before the queue kept them); d is treated on day 70, with no
// move since; e only moves; f has a decision of an action the rules no
// longer define.
func fxSource() *fakeEffects {
	return &fakeEffects{
		decs: []ActionDecision{
			decision("a", ActionPending, 0, atRisk),
			decision("a", ActionDone, 40, atRisk),
			decision("b", ActionHeldOut, 5, atRisk),
			decision("c", ActionHeldOut, 5, map[string]string{}),
			decision("d", ActionPending, 70, atRisk),
			{Action: "gone", Customer: "f", Status: ActionPending, At: fxDay(1), Segments: atRisk},
		},
		moves: []HistoryMove{
			move("a", "lifecycle", "active", "at_risk", 0),
			move("a", "lifecycle", "at_risk", "churned", 20),
			move("a", "lifecycle", "churned", "at_risk", 40),
			move("b", "lifecycle", "at_risk", "active", 10),
			move("e", "lifecycle", "active", "churned", 3),
		},
	}
}

func fxOptions() EffectsOptions {
	return EffectsOptions{From: fx0, Until: fxDay(90), Latest: fxDay(100), Horizons: []int{60, 30, 30}, MinGroup: 1}
}

// Each customer counts once, by its first decision, at every horizon
// that has passed; a repeat within a horizon adds to its cost, and
// every treated decision of the period to its class's cost.
func TestEffectsCountsFirstDecisions(t *testing.T) {
	rep, err := Effects(context.Background(), fxSource(), effectsRuleSet(t), fxOptions())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Churn != "lifecycle.churned" || rep.Method != EffectsMethod || !reflect.DeepEqual(rep.Horizons, []int{30, 60}) || rep.MinGroup != 1 {
		t.Errorf("report header = %q, %q, %v, %d", rep.Churn, rep.Method, rep.Horizons, rep.MinGroup)
	}
	type row struct {
		cell                           string
		treated, heldOut               int
		stayed, churned, movedUp, cost [2]float64 // treated, held-out shares; cost: Cost, KeptPerCost
	}
	var got []row
	for _, e := range rep.Effects {
		got = append(got, row{fmt.Sprintf("%s/%s/%s/%d", e.Action, e.Segmentation, e.Segment, e.Horizon), e.Treated, e.HeldOut,
			[2]float64{e.Stayed.Treated, e.Stayed.HeldOut}, [2]float64{e.Churned.Treated, e.Churned.HeldOut},
			[2]float64{e.MovedUp.Treated, e.MovedUp.HeldOut}, [2]float64{e.Cost, e.KeptPerCost}})
	}
	want := []row{
		// a churned (moved up: churned ranks first), d stayed; b active.
		// a and d cost one call each; (0 - 1/2) * 2 / 10 kept per unit.
		{"winback_call/lifecycle/at_risk/30", 2, 1, [2]float64{0.5, 0}, [2]float64{0.5, 0}, [2]float64{0.5, 0}, [2]float64{10, -0.1}},
		// Day 130 of d is after Latest; a is back in at_risk, called twice.
		{"winback_call/lifecycle/at_risk/60", 1, 1, [2]float64{1, 0}, [2]float64{0, 0}, [2]float64{0, 0}, [2]float64{10, 0}},
		{"winback_call/tier/regular/30", 2, 1, [2]float64{1, 1}, [2]float64{0.5, 0}, [2]float64{0, 0}, [2]float64{10, -0.1}},
		{"winback_call/tier/regular/60", 1, 1, [2]float64{1, 1}, [2]float64{0, 0}, [2]float64{0, 0}, [2]float64{10, 0}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("effects:\n got %v\nwant %v", got, want)
	}
	wantCosts := []ClassCost{
		{Action: "winback_call", Segmentation: "lifecycle", Segment: "at_risk", Queued: 3, UnitCost: 5, Cost: 15},
		{Action: "winback_call", Segmentation: "tier", Segment: "regular", Queued: 3, UnitCost: 5, Cost: 15},
	}
	if !reflect.DeepEqual(rep.Costs, wantCosts) {
		t.Errorf("costs:\n got %+v\nwant %+v", rep.Costs, wantCosts)
	}
	for _, e := range rep.Effects {
		if !e.Conclusive || e.Note != "" {
			t.Errorf("%s/%d: conclusive %v, note %q; want conclusive at MinGroup 1", e.Segment, e.Horizon, e.Conclusive, e.Note)
		}
	}
}

// Groups smaller than MinGroup make a comparison inconclusive, and its
// note says by how much.
func TestEffectsSaysWhenTooSmall(t *testing.T) {
	opts := fxOptions()
	opts.MinGroup = 0 // DefaultMinGroup
	rep, err := Effects(context.Background(), fxSource(), effectsRuleSet(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	e := rep.Effects[0]
	if e.Conclusive || e.Note != "too small to conclude: 2 treated, 1 held out; need 30 in each" {
		t.Errorf("conclusive %v, note %q", e.Conclusive, e.Note)
	}
}

// The period bounds the first decisions and the class costs; Latest
// bounds the horizons.
func TestEffectsPeriod(t *testing.T) {
	opts := fxOptions()
	opts.From, opts.Until, opts.Latest = fxDay(1), fxDay(60), fxDay(36)
	rep, err := Effects(context.Background(), fxSource(), effectsRuleSet(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	// a's first decision in the period is day 40's, whose day 30 is after
	// Latest; b's day 35 is not; d's decision is after Until.
	if len(rep.Effects) != 2 || rep.Effects[0].Treated != 0 || rep.Effects[0].HeldOut != 1 || rep.Effects[0].Horizon != 30 {
		t.Errorf("effects = %+v; want b alone at 30 days", rep.Effects)
	}
	if len(rep.Costs) != 2 || rep.Costs[0].Queued != 1 {
		t.Errorf("costs = %+v; want a's call of day 40 alone", rep.Costs)
	}
}

// A rule set with no holdout and no cost reads nothing, and a rule set
// without churn compares no churn.
func TestEffectsWithoutHoldoutOrChurn(t *testing.T) {
	rs := effectsRuleSet(t)
	rs.Churn = nil
	rep, err := Effects(context.Background(), fxSource(), rs, fxOptions())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Churn != "" || rep.Effects[0].Churned != (Comparison{}) || rep.Effects[0].KeptPerCost != 0 {
		t.Errorf("without churn: %q, %+v", rep.Churn, rep.Effects[0])
	}
	rs.Actions[0].Holdout, rs.Actions[0].Cost = rules.Holdout{}, 0
	src := fxSource()
	rep, err = Effects(context.Background(), src, rs, fxOptions())
	if err != nil || len(rep.Effects) != 0 || len(rep.Costs) != 0 || src.movesRead != 0 {
		t.Errorf("no holdout, no cost: %+v, %v, %d moves read", rep, err, src.movesRead)
	}
}

func TestEffectsRefusesBadOptions(t *testing.T) {
	rs := effectsRuleSet(t)
	for _, c := range []struct {
		name string
		opts EffectsOptions
		want string
	}{
		{"horizon", EffectsOptions{Horizons: []int{30, 0}}, "horizon 0 days"},
		{"min group", EffectsOptions{MinGroup: -1}, "smallest group"},
		{"period", EffectsOptions{From: fxDay(2), Until: fxDay(1)}, "ends"},
	} {
		_, err := Effects(context.Background(), fxSource(), rs, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "effects of fx: ") {
			t.Errorf("%s: %v; want an error about %q", c.name, err, c.want)
		}
	}
	rs.Churn = &rules.SegmentRef{Segmentation: "lifecycle", Segment: "lost"}
	if _, err := Effects(context.Background(), fxSource(), rs, fxOptions()); err == nil || !strings.Contains(err.Error(), "lifecycle.lost") {
		t.Errorf("unknown churn segment: %v", err)
	}
}

// The merge stops reading moves once the decisions end, and refuses
// streams out of customer order rather than pair the wrong rows.
func TestEffectsMerge(t *testing.T) {
	rs := effectsRuleSet(t)
	src := fxSource()
	src.allMoves = true // as a store might: the merge must cope
	src.moves = append(src.moves, move("x", "lifecycle", "active", "churned", 1), move("y", "lifecycle", "active", "churned", 1))
	if _, err := Effects(context.Background(), src, rs, fxOptions()); err != nil {
		t.Fatal(err)
	}
	// Up to e's, the first past d: the last customer with a decision of
	// an action the report reads (f's action, gone, is none of them).
	if src.movesRead != 5 {
		t.Errorf("read %d moves; want 5, stopping at the first past the last decision", src.movesRead)
	}

	src = fxSource()
	src.decs[2], src.decs[4] = src.decs[4], src.decs[2]
	if _, err := Effects(context.Background(), src, rs, fxOptions()); err == nil || !strings.Contains(err.Error(), "decisions out of customer order") {
		t.Errorf("decisions out of order: %v", err)
	}
	src = fxSource()
	src.allMoves = true
	src.moves[2], src.moves[3] = src.moves[3], src.moves[2] // a, a, b, a, e
	if _, err := Effects(context.Background(), src, rs, fxOptions()); err == nil || !strings.Contains(err.Error(), "moves: out of customer order") {
		t.Errorf("moves out of order: %v", err)
	}
	src = fxSource()
	src.failMoves = errors.New("connection lost")
	if _, err := Effects(context.Background(), src, rs, fxOptions()); err == nil || !strings.Contains(err.Error(), "read moves: connection lost") {
		t.Errorf("moves failing: %v", err)
	}
}
