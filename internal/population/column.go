package population

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// DefaultExactLimit is the number of values up to which a column is
// exact: sorting a million float64s takes well under a second and 8 MB.
const DefaultExactLimit = 1_000_000

// DefaultSketchK is the KLL parameter k of the sketch a column switches to
// past its exact limit; see [Options.SketchK].
const DefaultSketchK = 16384

// Options tunes a [Column]. The zero value means the defaults.
type Options struct {
	// ExactLimit is the number of values a column keeps exactly; from
	// the next value on it feeds them to a sketch instead. 0 means
	// [DefaultExactLimit]; a negative value means always exact.
	ExactLimit int
	// SketchK is the KLL parameter k: the sketch holds about 3k values and
	// its rank error shrinks like 1/k. Values below 8, such as 0, mean
	// [DefaultSketchK].
	SketchK int
	// SizeHint, when known, is the number of values that will be added;
	// it saves the growing of the exact buffer.
	SizeHint int
}

// ErrFrozen is returned by [Column.Add] and [Column.Freeze] on a column
// that is already frozen.
var ErrFrozen = errors.New("population: column is frozen: add every value before Freeze")

// ValueError reports a value that cannot be ranked: NaN or an infinity.
type ValueError struct {
	Fact  string  // the fact the value was given for
	Value float64 // the value
}

// Error names the fact and says how to fix the value.
func (e *ValueError) Error() string {
	return fmt.Sprintf("population: fact %s: value %v is not a finite number: "+
		"percentile ranks, bins and ABC classes need finite values; give a missing value as null", e.Fact, e.Value)
}

// Column collects the values of one fact over a run's customers, then
// answers population lookups for any value. Add values in one pass, call
// Freeze, then look values up; lookups are safe for concurrent use after
// Freeze. A Column must be made with [NewColumn].
type Column struct {
	fact    string
	limit   int
	k       int
	exact   []float64 // values while exact; nil once the sketch took over
	sk      *sketch
	n       int64 // values added (valid ones)
	missing int64
	frozen  bool
	t       table
}

// NewColumn returns an empty column for the named fact (the name appears
// in errors only).
func NewColumn(fact string, opts Options) *Column {
	c := &Column{fact: fact, limit: opts.ExactLimit, k: opts.SketchK}
	if c.limit == 0 {
		c.limit = DefaultExactLimit
	}
	if c.k < 8 {
		c.k = DefaultSketchK
	}
	if hint := opts.SizeHint; hint > 0 {
		if c.limit > 0 && hint > c.limit {
			hint = c.limit
		}
		c.exact = make([]float64, 0, hint)
	}
	return c
}

// Fact returns the name of the column's fact.
func (c *Column) Fact() string { return c.fact }

// Add adds one customer's value. ok false means the customer has no value
// (a null): it is counted in [Stats.Missing] and left out of the
// population. NaN and infinities are refused with a *[ValueError].
func (c *Column) Add(v float64, ok bool) error {
	if c.frozen {
		return ErrFrozen
	}
	if !ok {
		c.missing++
		return nil
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return &ValueError{Fact: c.fact, Value: v}
	}
	c.n++
	if c.sk != nil {
		c.sk.add(v)
		return nil
	}
	c.exact = append(c.exact, v)
	if c.limit > 0 && len(c.exact) > c.limit {
		c.sk = newSketch(c.k)
		for _, x := range c.exact {
			c.sk.add(x)
		}
		c.exact = nil
	}
	return nil
}

// Freeze ends the adding pass and prepares the lookups: it sorts the
// exact values in place, or sorts what the sketch retained.
func (c *Column) Freeze() error {
	if c.frozen {
		return ErrFrozen
	}
	c.frozen = true
	if c.sk != nil {
		c.t = c.sk.table()
		c.sk.levels, c.sk.scratch, c.sk.top = nil, nil, nil
		return nil
	}
	slices.Sort(c.exact)
	c.t = exactTable(c.exact)
	c.exact = nil
	return nil
}

// Stats describes a frozen column: its size, whether it is exact, and the
// error bounds of a sketch.
type Stats struct {
	N       int64 // values in the population
	Missing int64 // customers added without a value
	Exact   bool  // whether lookups are exact
	// Retained is the number of values the column holds: N when exact,
	// the sketch's size otherwise.
	Retained int
	// RankErrorBound bounds the error of the counts of values below, and
	// at or below, each value of the population (0 when exact): with
	// probability at least 99%, every one of them is within it at once.
	// PercentRank and CumeDist are off by at most RankErrorBound / N, and
	// a bin differs from the exact one only for values that close to a
	// bin's edge. See docs/population.md.
	RankErrorBound float64
	// ShareErrorBound bounds, along with RankErrorBound, the error of
	// [Column.ShareAbove] for every value of the population (0 when
	// exact).
	ShareErrorBound float64
}

// Stats returns the column's statistics. It is meant for frozen columns;
// before Freeze, Retained and the bounds are those of the values so far.
func (c *Column) Stats() Stats {
	s := Stats{N: c.n, Missing: c.missing, Exact: c.sk == nil}
	switch {
	case c.frozen:
		s.Retained = len(c.t.vals)
	case c.sk != nil:
		s.Retained = c.sk.size
	default:
		s.Retained = len(c.exact)
	}
	if c.sk != nil {
		s.RankErrorBound = c.sk.rankBound(boundDelta)
		top := c.sk.top // a heap: its first value is the smallest
		if c.frozen {
			top = c.t.top // sorted
		}
		if c.sk.total > 0 && int64(len(top)) < c.sk.n {
			s.ShareErrorBound = s.RankErrorBound * max(top[0], 0) / c.sk.total
		}
	}
	return s
}
