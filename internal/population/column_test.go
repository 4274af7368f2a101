package population

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// column returns a frozen exact column of the values.
func column(t testing.TB, vals ...float64) *Column {
	t.Helper()
	return exactColumn(t, list(vals...))
}

func TestTies(t *testing.T) {
	c := column(t, 10, 20, 20, 30)
	for _, tc := range []struct {
		v             float64
		pctRank, cume float64
	}{{10, 0, 0.25}, {20, 1.0 / 3, 0.75}, {30, 1, 1}} {
		if got := c.PercentRank(tc.v); got != tc.pctRank {
			t.Errorf("PercentRank(%v) = %v, want %v", tc.v, got, tc.pctRank)
		}
		if got := c.CumeDist(tc.v); got != tc.cume {
			t.Errorf("CumeDist(%v) = %v, want %v", tc.v, got, tc.cume)
		}
	}
}

// The docs' ntile example: four customers with one order take bin 1 and
// leave bin 2 empty.
func TestNtileDocExample(t *testing.T) {
	c := column(t, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7)
	var got []int
	for _, v := range []float64{1, 2, 3, 4, 5, 6, 7} {
		got = append(got, c.Ntile(v, 5))
	}
	if want := []int{1, 3, 3, 4, 4, 5, 5}; !slices.Equal(got, want) {
		t.Errorf("Ntile of 1..7 = %v, want %v", got, want)
	}
	got = got[:0]
	for _, v := range []float64{1, 2, 3, 4, 5, 6, 7} {
		got = append(got, c.NtileDesc(v, 5))
	}
	if want := []int{4, 3, 3, 2, 2, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("NtileDesc of 1..7 = %v, want %v", got, want)
	}
}

// The docs' ABC example: 15 takes the cumulative share from 70% to 85%
// and is still A; 3 takes it to 98% and is C, because 95% is held above it.
func TestABCDocExample(t *testing.T) {
	c := column(t, 40, 30, 15, 10, 3, 2, 0, -5)
	cuts, err := NewCuts(0.8, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range []float64{40, 30, 15, 10, 3, 2, 0, -5} {
		got = append(got, c.ABC(v, cuts))
	}
	if s := strings.Join(got, ""); s != "AAABCCCC" {
		t.Errorf("classes of 40 30 15 10 3 2 0 -5 = %s, want AAABCCCC", s)
	}
	if got := c.ShareAbove(15); got != 0.7 {
		t.Errorf("ShareAbove(15) = %v, want 0.7", got)
	}
}

func TestABCAllZero(t *testing.T) {
	cuts, _ := NewCuts(0.8, 0.95)
	for _, vals := range [][]float64{{0, 0, 0}, {-1, -2, 0}, {}} {
		c := column(t, vals...)
		for _, v := range append(vals, 1) {
			if got := c.ABC(v, cuts); got != "C" {
				t.Errorf("population %v: ABC(%v) = %q, want C (nobody holds a share)", vals, v, got)
			}
		}
	}
}

func TestEmptyColumn(t *testing.T) {
	c := column(t)
	if c.PercentRank(1) != 0 || c.CumeDist(1) != 0 || c.Ntile(1, 5) != 0 || c.NtileDesc(1, 5) != 0 {
		t.Error("an empty column gives non-zero answers")
	}
	d := column(t, 5)
	if d.PercentRank(5) != 0 || d.CumeDist(5) != 1 || d.Ntile(5, 5) != 1 || d.Ntile(5, 0) != 0 {
		t.Error("a column of one value: want percent rank 0, cume_dist 1, bin 1, and no bin for 0 bins")
	}
	if !math.IsNaN(d.PercentRank(math.NaN())) || d.Ntile(math.NaN(), 5) != 0 || d.ABC(math.NaN(), Cuts{}) != "" {
		t.Error("NaN lookups: want NaN, bin 0 and no class")
	}
}

func TestAddRefusesNaNAndInf(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		c := NewColumn("spend_12m", Options{})
		err := c.Add(v, true)
		var ve *ValueError
		if !errors.As(err, &ve) || ve.Fact != "spend_12m" {
			t.Fatalf("Add(%v) = %v, want a *ValueError for spend_12m", v, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "fact spend_12m") || !strings.Contains(msg, "null") {
			t.Errorf("error %q should name the fact and say to give null", msg)
		}
		if err := c.Add(v, false); err != nil {
			t.Errorf("a missing value is not an error: %v", err)
		}
		if c.Stats().N != 0 || c.Stats().Missing != 1 {
			t.Errorf("stats %+v, want N 0 and 1 missing", c.Stats())
		}
	}
}

func TestFrozen(t *testing.T) {
	c := column(t, 1, 2)
	if err := c.Add(3, true); !errors.Is(err, ErrFrozen) {
		t.Errorf("Add after Freeze = %v, want ErrFrozen", err)
	}
	if err := c.Freeze(); !errors.Is(err, ErrFrozen) {
		t.Errorf("a second Freeze = %v, want ErrFrozen", err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "before Freeze") {
			t.Errorf("a lookup before Freeze: recovered %v, want a panic saying so", r)
		}
	}()
	NewColumn("x", Options{}).PercentRank(1)
}

func TestNewCuts(t *testing.T) {
	for _, tc := range []struct {
		cuts []float64
		err  string
	}{
		{nil, "none given"},
		{[]float64{0.95, 0.8}, "cut 2 (0.8) is not above cut 1 (0.95)"},
		{[]float64{0.8, 1.2}, "cut 2 is 1.2"},
		{[]float64{0}, "cut 1 is 0"},
		{[]float64{math.NaN()}, "cut 1 is NaN"},
		{make([]float64, 26), "at most 25 cuts"},
	} {
		if _, err := NewCuts(tc.cuts...); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("NewCuts(%v) = %v, want an error containing %q", tc.cuts, err, tc.err)
		}
	}
	cuts, err := NewCuts(0.8, 0.95)
	if err != nil || cuts.String() != "[0.8, 0.95]" || strings.Join(cuts.Classes(), "") != "ABC" {
		t.Errorf("NewCuts(0.8, 0.95) = %v %v %v", cuts, cuts.Classes(), err)
	}
}

func TestRFM(t *testing.T) {
	// Customer i ordered i times, spent 10·i and last ordered 100 - i days ago.
	rec, freq, mon := NewColumn("recency_days", Options{}), NewColumn("orders_12m", Options{}), NewColumn("spend_12m", Options{})
	for i := 1; i <= 10; i++ {
		_ = rec.Add(float64(100-i), true)
		_ = freq.Add(float64(i), true)
		_ = mon.Add(float64(10*i), true)
	}
	for _, c := range []*Column{rec, freq, mon} {
		if err := c.Freeze(); err != nil {
			t.Fatal(err)
		}
	}
	r, err := NewRFM(rec, freq, mon, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Score(90, 10, 100).Code(); got != "555" {
		t.Errorf("the best customer's code = %q, want 555", got)
	}
	if got := r.Score(99, 1, 10).Code(); got != "111" {
		t.Errorf("the worst customer's code = %q, want 111", got)
	}
	if got := (Scores{F: r.F(10), M: r.M(100)}).Code(); got != "" {
		t.Errorf("a customer without recency has code %q, want none", got)
	}
	for _, bins := range []int{0, 10} {
		if _, err := NewRFM(rec, freq, mon, bins); err == nil {
			t.Errorf("NewRFM with %d bins: no error", bins)
		}
	}
	if _, err := NewRFM(nil, freq, mon, 5); err == nil {
		t.Error("NewRFM without recency: no error")
	}
}

// Lookups allocate nothing, exact or sketched.
func TestLookupsDoNotAllocate(t *testing.T) {
	exact := column(t, 1, 2, 2, 3, 5, 8)
	sketched := NewColumn("x", Options{ExactLimit: 100, SketchK: 64})
	for i := range 10000 {
		_ = sketched.Add(float64(i%997), true)
	}
	if err := sketched.Freeze(); err != nil {
		t.Fatal(err)
	}
	cuts, _ := NewCuts(0.8, 0.95)
	r, _ := NewRFM(exact, exact, sketched, 5)
	for _, c := range []*Column{exact, sketched} {
		allocs := testing.AllocsPerRun(100, func() {
			_ = c.PercentRank(2) + c.CumeDist(2) + c.ShareAbove(2)
			_ = c.Ntile(2, 5) + c.NtileDesc(2, 5)
			_ = c.ABC(2, cuts) + r.Score(2, 3, 4).Code()
		})
		if allocs != 0 {
			t.Errorf("exact %v: lookups allocate %v times", c.Stats().Exact, allocs)
		}
	}
}

// A column is exact up to its limit and sketched from the next value on;
// a negative limit keeps it exact.
func TestExactLimit(t *testing.T) {
	for _, tc := range []struct {
		limit, n int
		exact    bool
	}{{100, 100, true}, {100, 101, false}, {-1, 5000, true}} {
		c := NewColumn("x", Options{ExactLimit: tc.limit, SketchK: 16, SizeHint: tc.n})
		for i := range tc.n {
			_ = c.Add(float64(i), true)
		}
		_ = c.Freeze()
		st := c.Stats()
		if st.Exact != tc.exact || st.N != int64(tc.n) || (st.RankErrorBound == 0) != tc.exact {
			t.Errorf("limit %d, %d values: stats %+v, want exact %v", tc.limit, tc.n, st, tc.exact)
		}
		if !tc.exact && st.Retained >= tc.n {
			t.Errorf("limit %d, %d values: the sketch retains all %d values", tc.limit, tc.n, st.Retained)
		}
	}
}
