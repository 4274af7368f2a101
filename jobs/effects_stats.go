package jobs

import "math"

// EffectsMethod names the confidence interval of Comparison.Low and High,
// for EffectsReport.Method.
const EffectsMethod = "95% Newcombe hybrid score interval (Newcombe 1998, method 10) of the difference of two proportions"

// z95 is the two-sided 95% quantile of the standard normal distribution:
// Φ⁻¹(0.975).
const z95 = 1.959963984540054

// wilson is the Wilson score interval of the proportion x/n at z95:
//
//	(2x + z² ± z·√(z² + 4x(1 - x/n))) / (2(n + z²))
//
// It is [0, 1] when n is 0: nothing is known of the proportion.
func wilson(x, n int) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	fx, fn, z2 := float64(x), float64(n), z95*z95
	den := 2 * (fn + z2)
	center := (2*fx + z2) / den
	half := z95 * math.Sqrt(z2+4*fx*(1-fx/fn)) / den
	return max(0, center-half), min(1, center+half)
}

// newcombe is the 95% confidence interval of the difference d = p1 - p2
// of the proportions p1 = x1/n1 and p2 = x2/n2 by Newcombe's hybrid
// score method (R. G. Newcombe, "Interval estimation for the difference
// between independent proportions: comparison of eleven methods",
// Statistics in Medicine 17 (1998), 873-890, method 10). With [l1, u1]
// and [l2, u2] the Wilson score intervals of p1 and p2:
//
//	low  = d - √((p1 - l1)² + (u2 - p2)²)
//	high = d + √((u1 - p1)² + (p2 - l2)²)
//
// It keeps close to 95% coverage for small groups and for shares near 0
// or 1, where the usual Wald interval (d ± z·√(p1q1/n1 + p2q2/n2))
// covers too little and can leave [-1, 1]. An empty group makes it
// [-1, 1] around nothing: d is then 0.
func newcombe(x1, n1, x2, n2 int) (d, low, high float64) {
	if n1 <= 0 || n2 <= 0 {
		return 0, -1, 1
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	l1, u1 := wilson(x1, n1)
	l2, u2 := wilson(x2, n2)
	d = p1 - p2
	low = d - math.Hypot(p1-l1, u2-p2)
	high = d + math.Hypot(u1-p1, p2-l2)
	return d, max(-1, low), min(1, high)
}

// compare is the Comparison of x1 of n1 treated and x2 of n2 held-out
// customers.
func compare(x1, n1, x2, n2 int) Comparison {
	c := Comparison{TreatedCount: x1, HeldOutCount: x2}
	if n1 > 0 {
		c.Treated = float64(x1) / float64(n1)
	}
	if n2 > 0 {
		c.HeldOut = float64(x2) / float64(n2)
	}
	c.Diff, c.Low, c.High = newcombe(x1, n1, x2, n2)
	return c
}

// Excludes reports whether the confidence interval of the difference
// leaves out v: 0 for "the action made a difference".
func (c Comparison) Excludes(v float64) bool { return v < c.Low || v > c.High }
