package rules

import "sync"

// The ints IntValue returns without allocating: day counts of up to some
// eleven years, and -1, which days_since_covered gives for never.
const (
	minIntValue = -1
	maxIntValue = 4095
)

// intValues holds minIntValue to maxIntValue boxed once; intValuesOnce
// makes it on first use (some 100 KB).
var (
	intValues     []any
	intValuesOnce sync.Once
)

func makeIntValues() {
	intValues = make([]any, maxIntValue-minIntValue+1)
	for i := range intValues {
		intValues[i] = i + minIntValue
	}
}

// IntValue returns n as an interface value, as any(n) does, but without
// allocating for the small counts evaluation produces per customer (Go
// itself boxes only 0 to 255 for free): the days and ranks the engine
// writes into the expression environment, and what days_since,
// days_between and the like return.
func IntValue(n int) any {
	if n >= minIntValue && n <= maxIntValue {
		intValuesOnce.Do(makeIntValues)
		return intValues[n-minIntValue]
	}
	return n
}
