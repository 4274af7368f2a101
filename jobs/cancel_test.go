package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/memstore"
	"github.com/tierflow/tierflow/rules"
)

// slowRules returns a rule set that takes tens of microseconds per
// customer: string work in every condition, and most customers fall
// through to the fallback. threshold varies it, for a diff.
func slowRules(t *testing.T, threshold int) *rules.RuleSet {
	t.Helper()
	var b strings.Builder
	b.WriteString("ruleset: slow\nfacts:\n  spend: number\n  name: string\nsegmentations:\n")
	for s := range 2 {
		fmt.Fprintf(&b, "  - name: dim%d\n    segments:\n", s)
		for k := range 8 {
			fmt.Fprintf(&b, "      - {name: s%d, when: 'spend > %d || upper(trim(lower(name) + \"-%d\")) == \"X\" || hasSuffix(lower(name + name), \"%d%d\")'}\n", k, threshold+k, k, s, k)
		}
		b.WriteString("      - {name: rest, fallback: true}\n")
	}
	return compile(t, b.String())
}

// handshakeFacts hands out one customer, then a batch of big customers,
// then batches of batchSize for ever. sent is closed once the big batch
// is handed out. After the run's context is done it counts the customers
// it still managed to hand out.
type handshakeFacts struct {
	big  int
	sent chan struct{}

	mu          sync.Mutex
	afterCancel int
}

func (f *handshakeFacts) OpenFacts(context.Context, *rules.RuleSet) (jobs.FactsReader, error) {
	return f, nil
}

func (f *handshakeFacts) Count(context.Context) (int64, error) { return -1, nil }

// Ordered: the keys are zero-padded counts, in key order, so the run
// streams them as they come (an unordered source would be sorted first,
// and this one never ends).
func (f *handshakeFacts) Ordered() bool { return true }
func (f *handshakeFacts) Close() error  { return nil }

func (f *handshakeFacts) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	next := 0
	batch := func(n int) []engine.Customer {
		b := make([]engine.Customer, n)
		for i := range b {
			b[i] = engine.Customer{Key: fmt.Sprintf("%012d", next), Facts: []any{float64(next % 7), "Customer Name"}}
			next++
		}
		return b
	}
	hand := func(b []engine.Customer) error {
		late := ctx.Err() != nil
		err := fn(b)
		if err == nil && late {
			f.mu.Lock()
			f.afterCancel += len(b)
			f.mu.Unlock()
		}
		return err
	}
	if err := hand(batch(1)); err != nil {
		return err
	}
	if err := hand(batch(f.big)); err != nil {
		return err
	}
	close(f.sent)
	for {
		if err := hand(batch(batchSize)); err != nil {
			return err
		}
	}
}

// A cancelled run (SIGTERM) ends at once with context.Canceled: the
// batch already read but not evaluated when the cancel comes is not
// evaluated, and the source is handed nothing more. The handshake, with
// one worker: the worker reports its first batch (one customer) through
// Progress, which waits until the big batch is queued behind it and then
// cancels. Before the fix the worker went on to evaluate the whole big
// batch, and reported it.
func TestCancelStopsEvaluation(t *testing.T) {
	baseline, proposed := slowRules(t, 1000), slowRules(t, 2000)
	runs := []struct {
		name string
		run  func(ctx context.Context, facts jobs.FactsSource, opts jobs.Options) error
	}{
		{"plan", func(ctx context.Context, facts jobs.FactsSource, opts jobs.Options) error {
			_, err := jobs.Plan(ctx, jobs.NoState{}, facts, proposed, opts)
			return err
		}},
		{"apply", func(ctx context.Context, facts jobs.FactsSource, opts jobs.Options) error {
			store := memstore.New()
			_, err := jobs.Apply(ctx, store, facts, proposed, opts)
			if st, serr := store.OpenState(context.Background(), proposed); serr != nil || !st.Initial() {
				t.Errorf("the cancelled apply wrote state (%v)", serr)
			}
			return err
		}},
		{"diff", func(ctx context.Context, facts jobs.FactsSource, opts jobs.Options) error {
			_, err := jobs.PlanDiff(ctx, jobs.NoState{}, facts, baseline, proposed, opts, jobs.DiffLimits{})
			return err
		}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			facts := &handshakeFacts{big: 50000, sent: make(chan struct{})}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			var reported []int64
			opts := jobs.Options{AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), Workers: 1, BatchSize: 100, Guard: jobs.Guard{MaxErrorRate: -1},
				Progress: func(done, _ int64) {
					mu.Lock()
					reported = append(reported, done)
					first := len(reported) == 1
					mu.Unlock()
					if first {
						<-facts.sent
						cancel()
					}
				}}
			err := r.run(ctx, facts, opts)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if len(reported) != 1 {
				t.Errorf("progress after the cancel: %v; want only the first batch (1), before it", reported)
			}
			if facts.afterCancel > 0 {
				t.Errorf("the source handed out %d customers after the cancel", facts.afterCancel)
			}
		})
	}
}
