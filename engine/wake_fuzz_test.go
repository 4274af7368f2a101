package engine_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
)

// FuzzWakeSound checks TestWakeIsSound's property on customers decoded
// from the fuzz input: evaluating again, with the state saved from an
// evaluation, before its Wake is a no-op. The first argument picks the
// rule set (see wakeSets).
func FuzzWakeSound(f *testing.F) {
	sets := wakeSets(f)
	r := rand.New(rand.NewSource(2))
	for i := range sets {
		f.Add(uint8(i), []byte{})
		f.Add(uint8(i), []byte(strings.Repeat("\x07", 64)))
		for range 4 {
			b := make([]byte, 64+r.Intn(200))
			r.Read(b)
			f.Add(uint8(i), b)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		s := sets[int(which)%len(sets)]
		in := &fuzzInput{b: data}
		asOf := in.asOf()
		c := wakeCustomer(s, in, "c", asOf)
		if _, fail := checkWake(s.fast, c, asOf, laterTimes(rand.New(rand.NewSource(int64(len(data)))))); fail != "" {
			t.Fatalf("%s: %s", s.name, fail)
		}
	})
}

// TestWakeSteadyState measures wake-up times as an incremental run sees
// them: customers evaluated on a first night, then again the next night
// with the state the first saved. It checks the second night's wake-ups
// like TestWakeIsSound and logs how many customers wake on every run,
// never, or at a time (run with -v for the figures).
func TestWakeSteadyState(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(7))
	later := laterTimes(r)
	for _, s := range wakeSets(t) {
		var first, second wakeStats
		pool := steadyPool(s, r)
		for _, c := range pool {
			asOf := retailAsOf
			res := s.fast.Evaluate(asOf, c)
			st := classify(res.Wake, asOf)
			if len(res.Errors) > 0 {
				st.failing++
			}
			first.add(st)
			next := &engine.Customer{Key: c.Key, Facts: c.Facts, Absent: c.Absent, State: savedState(s.rs, c, res, asOf)}
			got, fail := checkWake(s.fast, next, asOf.Add(24*time.Hour), later)
			if fail != "" {
				t.Fatalf("%s, second night: %s", s.name, fail)
			}
			second.add(got)
		}
		t.Logf("%s: first night %s; second night %s", s.name, brief(first), brief(second))
	}
}

// steadyPool is the customers TestWakeSteadyState evaluates: the
// benchmark's pool for retail, decoded ones for the other rule sets.
func steadyPool(s *diffSet, r *rand.Rand) []*engine.Customer {
	if s.name == "retail" {
		return retailPool(s.rs, 2000, 9)
	}
	var out []*engine.Customer
	for i := range 1000 {
		b := make([]byte, 256)
		r.Read(b)
		out = append(out, wakeCustomer(s, &fuzzInput{b: b}, fmt.Sprintf("c%d", i), retailAsOf))
	}
	return out
}

func classify(w, asOf time.Time) wakeStats {
	st := wakeStats{customers: 1}
	switch {
	case w.IsZero():
		st.never++
	case !w.After(asOf):
		st.everyRun++
	default:
		st.finite++
	}
	return st
}

// brief says how many of the customers s counts wake on every run (and
// how many of those because of a rule error), never, or at a time.
func brief(s wakeStats) string {
	pct := func(n int) float64 { return 100 * float64(n) / float64(max(s.customers, 1)) }
	return fmt.Sprintf("every run %.1f%% (%.1f%% with rule errors), never %.1f%%, finite %.1f%%",
		pct(s.everyRun), pct(s.failing), pct(s.never), pct(s.finite))
}
