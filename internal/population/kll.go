package population

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// The sketch is KLL (Karnin, Lang and Liberty, "Optimal quantile
// approximation in streams", 2016) with capacities shrinking by kllC per
// level below the top, as Apache DataSketches does.
const (
	kllC        = 2.0 / 3.0
	kllMinWidth = 8
	// boundDelta is the probability with which any of a column's counts
	// and shares of the population's values may be beyond the bounds of
	// [Stats].
	boundDelta = 0.01
)

// sketch is a KLL quantile sketch. Level h holds values of weight 2^h;
// levels above 0 are sorted. When the sketch is full, the lowest level at
// its capacity is compacted: sorted, and every other value (starting at
// a random offset) moves up a level with twice the weight. The coin flips
// come from a fixed seed, so the same values in the same order always make
// the same sketch.
type sketch struct {
	k        int
	levels   [][]float64
	caps     []int
	capTotal int
	size     int // values retained, over all levels
	scratch  []float64
	rng      *rand.PCG
	flips    uint64 // unused coin flips
	nflips   int
	// variance is the sum over compactions of the squared weight of the
	// values compacted, 4^h: each compaction moves any count by 0 or
	// ±2^h, each sign with probability 1/2, which the bound rests on.
	variance float64
	n        int64
	total    float64   // sum of max(x, 0)
	top      []float64 // the k largest values, a min-heap
}

func newSketch(k int) *sketch {
	s := &sketch{k: k, rng: rand.NewPCG(0x7469657266, 0x6c6f77)}
	s.levels = [][]float64{make([]float64, 0, k)}
	s.setCaps()
	return s
}

// setCaps sets each level's capacity: k at the top, times kllC for each
// level below it, and never less than kllMinWidth.
func (s *sketch) setCaps() {
	top := len(s.levels) - 1
	s.caps = s.caps[:0]
	s.capTotal = 0
	for h := 0; h <= top; h++ {
		c := max(int(math.Ceil(float64(s.k)*math.Pow(kllC, float64(top-h)))), kllMinWidth)
		s.caps = append(s.caps, c)
		s.capTotal += c
	}
}

func (s *sketch) add(v float64) {
	s.n++
	s.total += max(v, 0)
	s.keepTop(v)
	s.levels[0] = append(s.levels[0], v)
	s.size++
	for s.size >= s.capTotal {
		s.compress()
	}
}

// compress compacts the lowest level that is at its capacity, adding a
// level on top first when that is the top one.
func (s *sketch) compress() {
	for h := range s.levels {
		if len(s.levels[h]) < s.caps[h] {
			continue
		}
		if h+1 == len(s.levels) {
			s.levels = append(s.levels, nil)
			s.setCaps()
		}
		s.compact(h)
		return
	}
}

// compact moves half of level h up to level h+1. With an odd number of
// values, the smallest stays at level h (which costs no error).
func (s *sketch) compact(h int) {
	buf := s.levels[h]
	if h == 0 {
		slices.Sort(buf)
	}
	odd := len(buf) % 2
	pairs := buf[odd:]
	up := s.levels[h+1]
	merged := s.scratch[:0]
	i, j := s.coin(), 0
	for i < len(pairs) && j < len(up) {
		if pairs[i] <= up[j] {
			merged = append(merged, pairs[i])
			i += 2
		} else {
			merged = append(merged, up[j])
			j++
		}
	}
	for ; i < len(pairs); i += 2 {
		merged = append(merged, pairs[i])
	}
	merged = append(merged, up[j:]...)
	s.scratch = up[:0]
	s.levels[h+1] = merged
	s.levels[h] = buf[:odd]
	s.size -= len(pairs) / 2
	s.variance += math.Ldexp(1, 2*h)
}

// coin returns 0 or 1, each with probability 1/2.
func (s *sketch) coin() int {
	if s.nflips == 0 {
		s.flips, s.nflips = s.rng.Uint64(), 64
	}
	b := int(s.flips & 1)
	s.flips >>= 1
	s.nflips--
	return b
}

// keepTop keeps v if it is among the k largest values so far.
func (s *sketch) keepTop(v float64) {
	h := s.top
	if len(h) < s.k {
		h = append(h, v)
		for i := len(h) - 1; i > 0 && h[(i-1)/2] > h[i]; i = (i - 1) / 2 {
			h[i], h[(i-1)/2] = h[(i-1)/2], h[i]
		}
		s.top = h
		return
	}
	if v <= h[0] {
		return
	}
	h[0] = v
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < len(h) && h[l] < h[small] {
			small = l
		}
		if l+1 < len(h) && h[l+1] < h[small] {
			small = l + 1
		}
		if small == i {
			return
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
}

// rankBound returns the count error that the counts below and at or
// below each of the population's n values, and the sums of the shares
// (3n lookups), exceed with probability at most delta, by Hoeffding's
// inequality over the compactions and a union bound over the lookups:
// sqrt(2 · ln(2 · 3n / delta) · Σ 4^h).
func (s *sketch) rankBound(delta float64) float64 {
	return math.Sqrt(2 * math.Log(6*float64(s.n)/delta) * s.variance)
}

// table returns the lookup table of the values retained, each with its
// weight, and of the largest values, kept exactly.
func (s *sketch) table() table {
	type item struct {
		v float64
		w int64
	}
	items := make([]item, 0, s.size)
	for h, level := range s.levels {
		for _, v := range level {
			items = append(items, item{v, int64(1) << h})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.v, b.v) })
	t := table{
		vals:   make([]float64, len(items)),
		cumw:   make([]int64, len(items)+1),
		prefix: make([]float64, len(items)+1),
		n:      s.n,
		total:  s.total,
		top:    slices.Clone(s.top),
	}
	for i, it := range items {
		t.vals[i] = it.v
		t.cumw[i+1] = t.cumw[i] + it.w
		t.prefix[i+1] = t.prefix[i] + max(it.v, 0)*float64(it.w)
	}
	t.buildIndex()
	slices.Sort(t.top)
	t.topSuffix = make([]float64, len(t.top)+1)
	for i := len(t.top) - 1; i >= 0; i-- {
		t.topSuffix[i] = t.topSuffix[i+1] + max(t.top[i], 0)
	}
	return t
}
