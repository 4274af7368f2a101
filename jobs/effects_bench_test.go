package jobs

import (
	"context"
	"fmt"
	"testing"
)

// benchEffects is n decisions of winback_call, one per customer over 30
// days, 30% held out, and 1.5 moves per customer: each enters at_risk
// with its decision, then a quarter churn 20 days later and a quarter
// become active after 10.
func benchEffects(n int) *fakeEffects {
	f := &fakeEffects{decs: make([]ActionDecision, 0, n), moves: make([]HistoryMove, 0, 2*n)}
	for i := range n {
		key := fmt.Sprintf("c%07d", i)
		status := ActionPending
		if i%10 < 3 {
			status = ActionHeldOut
		}
		f.decs = append(f.decs, decision(key, status, i%30, atRisk))
		f.moves = append(f.moves, move(key, "lifecycle", "active", "at_risk", i%30))
		switch i % 4 {
		case 0:
			f.moves = append(f.moves, move(key, "lifecycle", "at_risk", "churned", i%30+20))
		case 1:
			f.moves = append(f.moves, move(key, "lifecycle", "at_risk", "active", i%30+10))
		}
	}
	return f
}

// BenchmarkEffects merges and tallies 100,000 decisions and 150,000
// moves at three horizons in two segmentations, from memory: the cost
// of the report beyond reading the rows (the stores' BenchmarkEffects
// time it with them).
func BenchmarkEffects(b *testing.B) {
	rs := effectsRuleSet(b)
	src := benchEffects(100_000)
	opts := EffectsOptions{From: fx0, Until: fxDay(90), Latest: fxDay(200)}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Effects(context.Background(), src, rs, opts)
		if err != nil || len(rep.Effects) != 6 {
			b.Fatalf("%v, %d effects", err, len(rep.Effects))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100_000, "ns/decision")
}
