package population

import (
	"fmt"
	"strings"
)

// MaxClasses is the most ABC classes [NewCuts] accepts: A to Z.
const MaxClasses = 26

// classNames are the class letters, kept as constants so that lookups
// allocate nothing.
var classNames = func() []string {
	out := make([]string, MaxClasses)
	for i := range out {
		out[i] = string(rune('A' + i))
	}
	return out
}()

// Cuts are the cumulative shares that close the ABC classes: with
// [0.8, 0.95], class A holds the customers with the largest values up to
// 80% of the total, B up to 95%, C the rest. Make them with [NewCuts];
// the zero Cuts make one class, A.
type Cuts struct {
	shares []float64
}

// NewCuts validates cumulative shares, each in (0, 1] and increasing,
// as in abc(spend_12m, [0.8, 0.95]). Its errors say which cut is wrong.
func NewCuts(shares ...float64) (Cuts, error) {
	if len(shares) == 0 {
		return Cuts{}, fmt.Errorf("abc cuts: none given: list the cumulative shares that close the classes, e.g. [0.8, 0.95]")
	}
	if len(shares) >= MaxClasses {
		return Cuts{}, fmt.Errorf("abc cuts: %d cuts make %d classes, more than the %d letters A to Z: give at most %d cuts",
			len(shares), len(shares)+1, MaxClasses, MaxClasses-1)
	}
	for i, s := range shares {
		switch {
		case !(s > 0 && s <= 1):
			return Cuts{}, fmt.Errorf("abc cuts: cut %d is %v: a cut is a share of the total, above 0 and at most 1, e.g. 0.8 for 80%%", i+1, s)
		case i > 0 && s <= shares[i-1]:
			return Cuts{}, fmt.Errorf("abc cuts: cut %d (%v) is not above cut %d (%v): list the cuts in increasing order, e.g. [0.8, 0.95]",
				i+1, s, i, shares[i-1])
		}
	}
	return Cuts{shares: append([]float64(nil), shares...)}, nil
}

// Classes returns the names of the classes the cuts make, "A" to the
// last, in order.
func (c Cuts) Classes() []string {
	return append([]string(nil), classNames[:len(c.shares)+1]...)
}

// String returns the cuts as a rule file writes them, e.g. "[0.8, 0.95]".
func (c Cuts) String() string {
	parts := make([]string, len(c.shares))
	for i, s := range c.shares {
		parts[i] = fmt.Sprint(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
