package population

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// maxRelativeBound is the rank error bound docs/population.md promises
// for the default sketch: Stats.RankErrorBound / N at most this.
const maxRelativeBound = 0.0004

// distributions generate n values each, with a fixed seed: continuous,
// heavy-tailed, discrete with many ties, and sorted input.
var distributions = map[string]func(n int, rng *rand.Rand) []float64{
	"uniform":   fill(func(rng *rand.Rand) float64 { return rng.Float64() }),
	"normal":    fill(func(rng *rand.Rand) float64 { return rng.NormFloat64() }),
	"lognormal": fill(func(rng *rand.Rand) float64 { return math.Exp(3 + 2*rng.NormFloat64()) }),
	"pareto":    fill(func(rng *rand.Rand) float64 { return math.Pow(1-rng.Float64(), -1/1.2) }),
	"orders": fill(func(rng *rand.Rand) float64 { // geometric: half the customers ordered once
		return math.Floor(math.Log(1-rng.Float64())/math.Log(0.5)) + 1
	}),
	"ascending": func(n int, rng *rand.Rand) []float64 {
		v := fill(func(rng *rand.Rand) float64 { return math.Round(rng.Float64() * 1e5) })(n, rng)
		slices.Sort(v)
		return v
	},
	"descending": func(n int, rng *rand.Rand) []float64 {
		v := fill(func(rng *rand.Rand) float64 { return rng.NormFloat64() })(n, rng)
		slices.Sort(v)
		slices.Reverse(v)
		return v
	},
}

func fill(f func(*rand.Rand) float64) func(int, *rand.Rand) []float64 {
	return func(n int, rng *rand.Rand) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = f(rng)
		}
		return out
	}
}

// TestSketchErrorBound feeds 5,000,000 values of each distribution to a
// column with the default options, so it switches to the sketch at
// 1,000,000, and checks for every distinct value that the counts below
// and at or below it, and the share above it, are within the bounds the
// column reports; that the bound is within what the docs promise; that a
// bin differs from the exact one only for values whose position is within
// the bound of the bin's edge; and that the sketch stays small.
func TestSketchErrorBound(t *testing.T) {
	t.Parallel()
	n := 5_000_000
	if testing.Short() {
		n = 1_500_000
	}
	for name, gen := range distributions {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			vals := gen(n, rand.New(rand.NewPCG(15, uint64(len(name)))))
			c := NewColumn(name, Options{})
			for _, v := range vals {
				if err := c.Add(v, true); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Freeze(); err != nil {
				t.Fatal(err)
			}
			st := c.Stats()
			if st.Exact || st.N != int64(n) || st.Retained > 3*DefaultSketchK+512 {
				t.Fatalf("stats %+v: want a sketch of %d values retaining at most 3k+512", st, n)
			}
			if rel := st.RankErrorBound / float64(n); rel > maxRelativeBound || rel == 0 {
				t.Errorf("rank error bound %.0f is %.5f of n, want at most %v", st.RankErrorBound, rel, maxRelativeBound)
			}
			slices.Sort(vals)
			worst, worstShare := checkCounts(t, c, vals)
			t.Logf("n %d, retained %d: bound %.0f (%.4f%% of n), largest error %.0f; share bound %.2g, largest share error %.2g",
				n, st.Retained, st.RankErrorBound, 100*st.RankErrorBound/float64(n), worst, st.ShareErrorBound, worstShare)
		})
	}
}

// checkCounts compares the column's answers for each distinct value of
// sorted with the exact ones, and returns the largest count and share
// errors.
func checkCounts(t *testing.T, c *Column, sorted []float64) (worst, worstShare float64) {
	t.Helper()
	st := c.Stats()
	n := float64(len(sorted))
	var total float64
	for i := len(sorted) - 1; i >= 0; i-- {
		total += max(sorted[i], 0)
	}
	above := total
	for lo := 0; lo < len(sorted); {
		v := sorted[lo]
		hi := lo
		for hi < len(sorted) && sorted[hi] == v {
			above -= max(v, 0)
			hi++
		}
		below, atOrBelow := c.t.below(v), c.t.atOrBelow(v)
		errBelow, errAt := math.Abs(float64(below-int64(lo))), math.Abs(float64(atOrBelow-int64(hi)))
		worst = max(worst, errBelow, errAt)
		if errBelow > st.RankErrorBound || errAt > st.RankErrorBound {
			t.Fatalf("value %v: counts %d and %d, exact %d and %d: beyond the bound %.0f", v, below, atOrBelow, lo, hi, st.RankErrorBound)
		}
		share := 1.0
		if v > 0 {
			share = max(above, 0) / total
		}
		if e := math.Abs(c.ShareAbove(v) - share); e > worstShare {
			worstShare = e
			if e > st.ShareErrorBound+1e-9 {
				t.Fatalf("value %v: share above %v, exact %v: beyond the bound %v", v, c.ShareAbove(v), share, st.ShareErrorBound)
			}
		}
		if got, exact := c.Ntile(v, 5), bin(int64(lo), int64(n), 5); got != exact && !nearEdge(lo, len(sorted), 5, st.RankErrorBound) {
			t.Fatalf("value %v at position %d: bin %d, exact %d, though no bin edge is within %.0f", v, lo, got, exact, st.RankErrorBound)
		}
		lo = hi
	}
	return worst, worstShare
}

// nearEdge reports whether position pos of n is within d of an edge
// between two of PostgreSQL's bins.
func nearEdge(pos, n, bins int, d float64) bool {
	for p := max(0, pos-int(d)-1); p <= min(n-1, pos+int(d)+1); p++ {
		if p > 0 && bin(int64(p), int64(n), bins) != bin(int64(p-1), int64(n), bins) {
			return true
		}
	}
	return false
}

// TestSketchDeterministic: the same values in the same order make the
// same sketch, and every weight is accounted for.
func TestSketchDeterministic(t *testing.T) {
	t.Parallel()
	vals := distributions["lognormal"](200_000, rand.New(rand.NewPCG(1, 1)))
	build := func() *Column {
		c := NewColumn("spend_12m", Options{ExactLimit: 1000, SketchK: 256})
		for _, v := range vals {
			_ = c.Add(v, true)
		}
		_ = c.Freeze()
		return c
	}
	a, b := build(), build()
	if !slices.Equal(a.t.vals, b.t.vals) || !slices.Equal(a.t.cumw, b.t.cumw) {
		t.Fatal("two sketches of the same values in the same order differ")
	}
	if last := a.t.cumw[len(a.t.cumw)-1]; last != int64(len(vals)) {
		t.Fatalf("the sketch's weights add up to %d, want %d", last, len(vals))
	}
	if at := a.t.atOrBelow(math.MaxFloat64); at != int64(len(vals)) {
		t.Fatalf("count at or below the largest value = %d, want all %d", at, len(vals))
	}
}
