package population

// indexStep is the stride of a table's index: every indexStep-th value,
// so that a search touches the index, which stays in cache, and then one
// short run of the values.
const indexStep = 64

// table is what a frozen column looks values up in: the values it holds,
// sorted, with their cumulative weights and sums.
type table struct {
	vals  []float64 // ascending
	index []float64 // vals[0], vals[indexStep], vals[2·indexStep], ...
	// cumw[i] is the weight of vals[:i] (len(vals)+1 entries), or nil
	// when every weight is 1 (an exact column), where it is i.
	cumw []int64
	// suffix (exact columns) has, at i, the sum of max(vals[j], 0) over
	// j >= i, added from the largest value down; suffix[len(vals)] is 0.
	suffix []float64
	// prefix (sketches) has, at i, the sum of max(vals[j], 0)·weight
	// over j < i.
	prefix []float64
	// top (sketches) are the largest values, ascending, kept exactly,
	// and topSuffix their sums from i up, as suffix.
	top, topSuffix []float64
	n              int64   // the population's size
	total          float64 // the sum of max(x, 0) over the population
}

// exactTable builds the table of an exact column from its sorted values,
// reusing the slice.
func exactTable(sorted []float64) table {
	t := table{vals: sorted, n: int64(len(sorted)), suffix: make([]float64, len(sorted)+1)}
	for i := len(sorted) - 1; i >= 0; i-- {
		t.suffix[i] = t.suffix[i+1] + max(sorted[i], 0)
	}
	t.total = t.suffix[0]
	t.buildIndex()
	return t
}

// buildIndex samples the sorted values into the index.
func (t *table) buildIndex() {
	t.index = make([]float64, 0, len(t.vals)/indexStep+1)
	for i := 0; i < len(t.vals); i += indexStep {
		t.index = append(t.index, t.vals[i])
	}
}

// search returns the index of the first value at or above v (above v
// when strict): it finds the run of indexStep values in the index, then
// the value in the run.
func (t *table) search(v float64, strict bool) int {
	j := first(t.index, v, strict)
	lo, hi := max(0, (j-1)*indexStep+1), min(len(t.vals), j*indexStep)
	return lo + first(t.vals[lo:hi], v, strict)
}

// first returns the index of the first of the ascending vals at or above
// v (above v when strict).
func first(vals []float64, v float64, strict bool) int {
	lo, hi := 0, len(vals)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if vals[m] < v || strict && vals[m] == v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// weight returns the weight of vals[:i], at most n.
func (t *table) weight(i int) int64 {
	if t.cumw == nil {
		return int64(i)
	}
	return min(t.cumw[i], t.n)
}

// below returns how many values of the population are below v (an
// estimate for a sketch).
func (t *table) below(v float64) int64 { return t.weight(t.search(v, false)) }

// atOrBelow returns how many values of the population are at or below v
// (an estimate for a sketch).
func (t *table) atOrBelow(v float64) int64 { return t.weight(t.search(v, true)) }

// shareAbove returns the share of the total held by the values above v,
// for v > 0 and a positive total. A sketch answers exactly from its top
// values when v is at or above the smallest of them, and otherwise from
// the estimated sum of the values at or below v, whose error is at most
// the count error times v.
func (t *table) shareAbove(v float64) float64 {
	if t.cumw == nil {
		return t.suffix[t.search(v, true)] / t.total
	}
	if len(t.top) > 0 && (int64(len(t.top)) == t.n || v >= t.top[0]) {
		return t.topSuffix[first(t.top, v, true)] / t.total
	}
	return max(0, min(1, 1-t.prefix[t.search(v, true)]/t.total))
}
