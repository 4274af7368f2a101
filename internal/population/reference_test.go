package population

import (
	"cmp"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// sample is one customer's value of a fact; ok false is a null.
type sample struct {
	v  float64
	ok bool
}

// want is what the hand-written reference says of one customer.
type want struct {
	pctRank, cumeDist, share float64
	ntile, ntileDesc         int
	abc                      string
}

// reference computes every population fact of every valid sample by
// brute force, straight from the definitions in docs/population.md: counts
// by scanning, ntile by dealing rows into PostgreSQL's bins one by one in
// a shuffled tie order and taking the smallest bin of each value, shares
// by adding the larger values up from the largest.
func reference(samples []sample, bins int, cuts []float64, rng *rand.Rand) map[int]want {
	var vals []float64
	for _, s := range samples {
		if s.ok {
			vals = append(vals, s.v)
		}
	}
	n := len(vals)
	asc, desc := dealBins(vals, bins, 1, rng), dealBins(vals, bins, -1, rng)
	sorted := slices.Clone(vals)
	slices.SortFunc(sorted, func(a, b float64) int { return cmp.Compare(b, a) })
	var total float64
	for _, x := range sorted {
		total += max(x, 0)
	}
	out := map[int]want{}
	for i, s := range samples {
		if !s.ok {
			continue
		}
		below, atOrBelow := 0, 0
		for _, x := range vals {
			if x < s.v {
				below++
			}
			if x <= s.v {
				atOrBelow++
			}
		}
		w := want{cumeDist: float64(atOrBelow) / float64(n), ntile: asc[s.v], ntileDesc: desc[s.v]}
		if n > 1 {
			w.pctRank = float64(below) / float64(n-1)
		}
		var above float64
		for _, x := range sorted {
			if x > s.v {
				above += max(x, 0)
			}
		}
		w.share = 1
		if total > 0 {
			w.share = above / total
		}
		w.abc = string(rune('A' + len(cuts)))
		for j := len(cuts) - 1; j >= 0; j-- {
			if w.share < cuts[j] {
				w.abc = string(rune('A' + j))
			}
		}
		out[i] = w
	}
	return out
}

// dealBins deals the values, sorted by order (1 ascending, -1
// descending) with ties in random order, into bins as PostgreSQL's
// ntile does: the first n mod bins bins get one row more. It returns the
// smallest bin each value was dealt into.
func dealBins(vals []float64, bins, order int, rng *rand.Rand) map[float64]int {
	rows := slices.Clone(vals)
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	slices.SortStableFunc(rows, func(a, b float64) int { return order * cmp.Compare(a, b) })
	out := map[float64]int{}
	n := len(rows)
	row := 0
	for b := 1; b <= bins; b++ {
		size := n / bins
		if b <= n%bins {
			size++
		}
		for ; size > 0; size-- {
			if _, seen := out[rows[row]]; !seen {
				out[rows[row]] = b
			}
			row++
		}
	}
	return out
}

// datasets are populations with many ties, nulls, zeros and negative
// values, and the small and degenerate ones.
func datasets(rng *rand.Rand) map[string][]sample {
	gen := func(n int, f func() (float64, bool)) []sample {
		out := make([]sample, n)
		for i := range out {
			out[i].v, out[i].ok = f()
		}
		return out
	}
	return map[string][]sample{
		"small ints": gen(2000, func() (float64, bool) { return float64(rng.IntN(10)), rng.IntN(10) > 0 }),
		"zeros and negatives": gen(3000, func() (float64, bool) {
			if rng.IntN(4) == 0 {
				return 0, true
			}
			return float64(rng.IntN(400) - 50), rng.IntN(8) > 0
		}),
		"cents": gen(2500, func() (float64, bool) {
			return math.Round(math.Exp(rng.NormFloat64()*1.5+4)*10) / 10, rng.IntN(6) > 0
		}),
		"distinct":    gen(997, func() (float64, bool) { return rng.Float64() * 1000, true }),
		"all equal":   gen(101, func() (float64, bool) { return 7, true }),
		"all zero":    gen(50, func() (float64, bool) { return 0, rng.IntN(5) > 0 }),
		"negative":    gen(40, func() (float64, bool) { return -float64(rng.IntN(5)), true }),
		"one":         gen(1, func() (float64, bool) { return 3, true }),
		"two":         gen(2, func() (float64, bool) { return float64(rng.IntN(2)), true }),
		"four":        gen(4, func() (float64, bool) { return float64(rng.IntN(3)), true }),
		"seven":       gen(7, func() (float64, bool) { return float64(rng.IntN(5)), true }),
		"none":        gen(5, func() (float64, bool) { return 1, false }),
		"abc example": list(40, 30, 15, 10, 3, 2, 0, -5), // 3 has 95% above it
		"on a cut":    list(50, 30, 10, 10),              // the 10s have 80% above them
	}
}

// list returns the values as samples, in order.
func list(vals ...float64) []sample {
	out := make([]sample, len(vals))
	for i, v := range vals {
		out[i] = sample{v, true}
	}
	return out
}

// exactColumn builds and freezes an exact column of the samples.
func exactColumn(t testing.TB, samples []sample) *Column {
	t.Helper()
	c := NewColumn("spend_12m", Options{})
	for _, s := range samples {
		if err := c.Add(s.v, s.ok); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Freeze(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestExactEqualsReference: on every dataset, for several bin counts and
// cuts, each customer's percentile rank, cumulative distribution, bins,
// share and class equal the brute-force reference exactly.
func TestExactEqualsReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(15, 2))
	cutSets := [][]float64{{0.8, 0.95}, {0.5}, {0.2, 0.5, 0.9, 1}}
	sets := datasets(rng)
	for _, name := range slices.Sorted(maps.Keys(sets)) {
		samples := sets[name]
		c := exactColumn(t, samples)
		if st := c.Stats(); !st.Exact || st.N+st.Missing != int64(len(samples)) {
			t.Errorf("%s: stats %+v for %d samples", name, st, len(samples))
		}
		for _, bins := range []int{1, 2, 3, 5, 7, 10} {
			for ci, cutList := range cutSets {
				cuts, err := NewCuts(cutList...)
				if err != nil {
					t.Fatal(err)
				}
				for i, w := range reference(samples, bins, cutList, rng) {
					v := samples[i].v
					got := want{c.PercentRank(v), c.CumeDist(v), c.ShareAbove(v), c.Ntile(v, bins), c.NtileDesc(v, bins), c.ABC(v, cuts)}
					if got != w {
						t.Fatalf("%s, %d bins, cuts %d: customer %d (value %v): got %+v, want %+v", name, bins, ci, i, v, got, w)
					}
				}
			}
		}
	}
}

// TestExactOrderIndependent: the same values added in another order give
// the same answers, bit for bit.
func TestExactOrderIndependent(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(15, 3))
	samples := datasets(rng)["cents"]
	a := exactColumn(t, samples)
	shuffled := slices.Clone(samples)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b := exactColumn(t, shuffled)
	for _, s := range samples {
		if a.PercentRank(s.v) != b.PercentRank(s.v) || a.ShareAbove(s.v) != b.ShareAbove(s.v) || a.Ntile(s.v, 5) != b.Ntile(s.v, 5) {
			t.Fatalf("value %v: answers depend on the order of Add", s.v)
		}
	}
}

func TestCodes(t *testing.T) {
	for r := 1; r <= MaxRFMBins; r++ {
		for f := 1; f <= MaxRFMBins; f++ {
			for m := 1; m <= MaxRFMBins; m++ {
				if got, want := (Scores{r, f, m}).Code(), strconv.Itoa(r)+strconv.Itoa(f)+strconv.Itoa(m); got != want {
					t.Fatalf("Scores{%d %d %d}.Code() = %q, want %q", r, f, m, got, want)
				}
			}
		}
	}
}
