package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// cancelAfter is a context that turns cancelled once its plan counts n
// customers: a cancel that lands in the middle of a batch.
type cancelAfter struct {
	context.Context
	plan *engine.Plan
	n    int
}

func (c cancelAfter) Err() error {
	if c.plan.Customers >= c.n {
		return context.Canceled
	}
	return nil
}

// A worker looks at the run's context between customers, not only
// between batches: cancelled in the middle of a batch, it stops within
// checkEvery customers and returns the context's error.
func TestEvaluatorStopsMidBatch(t *testing.T) {
	rs, err := rules.Compile("t.yaml", []byte(`
ruleset: t
facts: {spend: number}
segmentations:
  - name: tier
    segments:
      - {name: big, when: spend >= 100}
      - {name: small, fallback: true}
`), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &evaluator{e: engine.New(rs), asOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), keep: true, plan: engine.NewPlan(rs)}
	b := make([]engine.Customer, 10000)
	for i := range b {
		b[i] = engine.Customer{Key: "c", Facts: []any{float64(i)}, State: engine.State{Segments: make([]engine.Assignment, 1)}}
	}
	const at = 1000
	changed, err := w.batch(cancelAfter{Context: context.Background(), plan: w.plan, n: at}, b)
	if !errors.Is(err, context.Canceled) || changed != nil {
		t.Fatalf("batch = %d changed, %v; want nothing and context.Canceled", len(changed), err)
	}
	if n := w.plan.Customers; n < at || n >= at+checkEvery {
		t.Errorf("evaluated %d customers; want the %d before the cancel and fewer than %d after", n, at, checkEvery)
	}

	// Not cancelled: the whole batch, and the customers to stage.
	w.plan = engine.NewPlan(rs)
	changed, err = w.batch(context.Background(), b)
	if err != nil || w.plan.Customers != len(b) || len(changed) != len(b) {
		t.Errorf("uncancelled batch: %d evaluated, %d changed, %v", w.plan.Customers, len(changed), err)
	}
}
