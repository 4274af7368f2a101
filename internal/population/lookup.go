package population

// mustBeFrozen panics when the column is looked up before Freeze, which
// is a programming error.
func (c *Column) mustBeFrozen() {
	if !c.frozen {
		panic("population: column " + c.fact + " looked up before Freeze")
	}
}

// PercentRank returns the percentile rank of v in [0, 1], as SQL's
// percent_rank(): the share of the other values that are below v,
// (values below v) / (n - 1). It is 0 when n <= 1, and NaN for NaN.
func (c *Column) PercentRank(v float64) float64 {
	c.mustBeFrozen()
	if v != v {
		return v
	}
	n := c.t.n
	if n <= 1 {
		return 0
	}
	return float64(min(c.t.below(v), n-1)) / float64(n-1)
}

// CumeDist returns the cumulative distribution of v in [0, 1], as SQL's
// cume_dist(): (values at or below v) / n. It is 0 for an empty column,
// and NaN for NaN.
func (c *Column) CumeDist(v float64) float64 {
	c.mustBeFrozen()
	if v != v {
		return v
	}
	if c.t.n == 0 {
		return 0
	}
	return float64(c.t.atOrBelow(v)) / float64(c.t.n)
}

// Ntile returns v's bin, 1 to bins, when the population is dealt into
// bins equal bins in ascending order: bin 1 holds the smallest values and
// bin bins the largest. It is the bin that
// SQL's ntile(bins) OVER (ORDER BY v) gives the first row of v's ties, so
// equal values share a bin (docs/population.md). It returns 0 (no bin)
// for NaN, an empty column or bins < 1.
func (c *Column) Ntile(v float64, bins int) int {
	c.mustBeFrozen()
	if v != v {
		return 0
	}
	return bin(c.t.below(v), c.t.n, bins)
}

// NtileDesc is [Column.Ntile] in descending order: bin 1 holds the
// largest values and bins the smallest, as ntile(bins) OVER (ORDER BY v
// DESC). Recency in days uses it, so that the most recent customers get
// the top bin.
func (c *Column) NtileDesc(v float64, bins int) int {
	c.mustBeFrozen()
	if v != v {
		return 0
	}
	return bin(c.t.n-c.t.atOrBelow(v), c.t.n, bins)
}

// bin returns the 1-based bin that SQL's ntile(bins) gives the row at
// 0-based position pos of n rows: the first n mod bins bins hold one row
// more than the others. It is 0 when n = 0 or bins < 1.
func bin(pos, n int64, bins int) int {
	if n <= 0 || bins < 1 {
		return 0
	}
	pos = max(0, min(pos, n-1))
	q, r := n/int64(bins), n%int64(bins)
	if pos < r*(q+1) {
		return int(pos/(q+1)) + 1
	}
	return int((pos-r)/q) + 1
}

// ShareAbove returns the share of the population's total held by the
// values greater than v, in [0, 1]: the sum of max(x, 0) over values
// x > v divided by the sum of max(x, 0) over all values. It is 1 for
// v <= 0 and when the total is 0 (nobody holds any share), and NaN for
// NaN. [Column.ABC] classifies by it.
func (c *Column) ShareAbove(v float64) float64 {
	c.mustBeFrozen()
	if v != v {
		return v
	}
	if v <= 0 || c.t.total <= 0 {
		return 1
	}
	return c.t.shareAbove(v)
}

// ABC returns v's ABC (Pareto) class by cuts: "A" when [Column.ShareAbove]
// is below the first cut, "B" when below the second, and so on; the last
// class takes the rest. So the customer whose own value takes the
// cumulative share across a cut is still in the class that cut closes,
// and equal values share a class. It returns "" for NaN.
func (c *Column) ABC(v float64, cuts Cuts) string {
	if v != v {
		c.mustBeFrozen()
		return ""
	}
	share := c.ShareAbove(v)
	for i, cut := range cuts.shares {
		if share < cut {
			return classNames[i]
		}
	}
	return classNames[len(cuts.shares)]
}
