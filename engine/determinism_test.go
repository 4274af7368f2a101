package engine_test

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
)

// Evaluating the same input twice gives identical results, whether
// through Evaluate, EvaluateInto with a reused Result, or Explain; and
// no input is modified.
func TestDeterministic(t *testing.T) {
	rs := loadRetail(t)
	e := engine.New(rs)
	pool := retailPool(rs, 1000, 7)
	var reused engine.Result
	for _, c := range pool {
		before := cloneCustomer(c)
		first := e.Evaluate(retailAsOf, c)
		second := e.Evaluate(retailAsOf, c)
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("%s: two evaluations differ:\n%+v\n%+v", c.Key, first, second)
		}
		want := snapshot(first)
		e.EvaluateInto(retailAsOf, c, &reused)
		if got := snapshot(&reused); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: EvaluateInto differs from Evaluate:\n%+v\n%+v", c.Key, got, want)
		}
		if got := snapshot(e.Explain(retailAsOf, c).Result); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: Explain differs from Evaluate:\n%+v\n%+v", c.Key, got, want)
		}
		if !reflect.DeepEqual(c, before) {
			t.Fatalf("%s: evaluation modified its input", c.Key)
		}
	}
}

// A warm engine, whose pooled worker has evaluated other customers
// before, agrees with a brand-new engine for every customer: nothing of
// one customer's environment leaks into the next.
func TestWarmEngineAgreesWithFresh(t *testing.T) {
	rs := loadRetail(t)
	warm := engine.New(rs)
	var res engine.Result
	for _, c := range retailPool(rs, 300, 11) {
		warm.EvaluateInto(retailAsOf, c, &res)
		want := snapshot(engine.New(rs).Evaluate(retailAsOf, c))
		if got := snapshot(&res); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: warm engine differs from a fresh one:\ngot  %+v\nwant %+v", c.Key, got, want)
		}
	}
}

// The generated pool exercises the paths the benchmark is meant to
// measure; guard against a generator change that makes it trivial.
func TestRetailPoolVariety(t *testing.T) {
	rs := loadRetail(t)
	e := engine.New(rs)
	reasons := map[engine.Reason]int{}
	actions := map[string]int{}
	moved := 0
	for _, c := range retailPool(rs, benchPoolSize, 1) {
		res := e.Evaluate(retailAsOf, c)
		for _, d := range res.Segments {
			reasons[d.Reason]++
		}
		for _, q := range res.Actions {
			actions[q.Name]++
		}
		if res.Changed() {
			moved++
		}
	}
	for _, r := range []engine.Reason{engine.ReasonMatched, engine.ReasonFallback, engine.ReasonMinStay, engine.ReasonGrace} {
		if reasons[r] == 0 {
			t.Errorf("no decision with reason %v: %v", r, reasons)
		}
	}
	for _, a := range rs.Actions {
		if actions[a.Name] == 0 {
			t.Errorf("action %s never queued: %v", a.Name, actions)
		}
	}
	if moved == 0 || moved == benchPoolSize {
		t.Errorf("%d of %d customers changed", moved, benchPoolSize)
	}
	t.Logf("reasons %v; actions %v; %d of %d changed", reasons, actions, moved, benchPoolSize)
}

// One Engine shared by 8 goroutines gives the results a single goroutine
// gives. Run with -race.
func TestConcurrentEvaluate(t *testing.T) {
	rs := loadRetail(t)
	e := engine.New(rs)
	pool := retailPool(rs, 2000, 3)
	// Two as-of times, alternated, so pooled workers switch between them.
	asOfs := []time.Time{retailAsOf, retailAsOf.Add(45 * day)}
	want := make([]engine.Result, len(pool))
	for i, c := range pool {
		want[i] = snapshot(e.Evaluate(asOfs[i%2], c))
	}
	const workers = 8
	got := make([]engine.Result, len(pool))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var res engine.Result
			for i := w; i < len(pool); i += workers {
				e.EvaluateInto(asOfs[i%2], pool[i], &res)
				got[i] = snapshot(&res)
			}
		})
	}
	wg.Wait()
	for i := range pool {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%s: concurrent result differs:\ngot  %+v\nwant %+v", pool[i].Key, got[i], want[i])
		}
	}
}

// The rule set's timezone, not the location the as-of time comes in,
// decides its calendar: month(as_of) of one instant is the same whatever
// zone the caller gives it in, and differs between rule sets whose
// timezone differs. A pooled worker caches the boxed as-of by instant.
func TestAsOfLocation(t *testing.T) {
	const src = `
ruleset: season
%s
facts:
  spend: number
segmentations:
  - name: season
    segments:
      - name: h2
        when: month(as_of) >= 7 && spend >= 0
      - name: h1
        fallback: true
`
	utc := time.Date(2024, 6, 30, 20, 0, 0, 0, time.UTC)
	shanghai := utc.In(time.FixedZone("UTC+8", 8*60*60))
	for _, tc := range []struct {
		timezone, want string
	}{{"", "h1"}, {"timezone: UTC", "h1"}, {"timezone: Asia/Shanghai", "h2"}, {"timezone: America/New_York", "h1"}} {
		rs := compile(t, fmt.Sprintf(src, tc.timezone))
		c := customer(t, rs, "c1", in{})
		e := engine.New(rs)
		for range 3 {
			for _, asOf := range []time.Time{utc, shanghai} {
				if got := decision(t, rs, e.Evaluate(asOf, c), "season").Segment; got != tc.want {
					t.Fatalf("%q, as-of %v: got %s, want %s", tc.timezone, asOf, got, tc.want)
				}
			}
		}
	}
}
