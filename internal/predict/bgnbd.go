package predict

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// BGNBD is a fitted BG/NBD model (Fader, Hardie and Lee 2005): while
// alive, a customer buys at a rate lambda ~ Gamma(R, Alpha) across
// customers; after each purchase they drop out with probability
// p ~ Beta(A, B). Alpha is in the time unit of the summaries it was
// fitted on. Its methods are safe for concurrent use and do not allocate.
type BGNBD struct {
	R     float64 `json:"r"`
	Alpha float64 `json:"alpha"`
	A     float64 `json:"a"`
	B     float64 `json:"b"`
}

// Validate reports parameters that are not all finite and positive.
func (m *BGNBD) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"r", m.R}, {"alpha", m.Alpha}, {"a", m.A}, {"b", m.B}} {
		if !(p.v > 0) || math.IsInf(p.v, 0) {
			return fmt.Errorf("bg/nbd: parameter %s = %v: it must be a finite number > 0", p.name, p.v)
		}
	}
	return nil
}

// LogLikelihood returns the log-likelihood of one customer's summary, the
// paper's likelihood function in log space:
//
//	ln L = ln Γ(r+x) − ln Γ(r) + r ln α
//	     + ln B(a, b+x) − ln B(a, b)
//	     + ln[ (α+T)^−(r+x) + δ(x>0) a/(b+x−1) (α+t_x)^−(r+x) ]
func (m *BGNBD) LogLikelihood(s Summary) float64 {
	r, alpha, a, b, x := m.R, m.Alpha, m.A, m.B, s.X
	lgRX, _ := math.Lgamma(r + x)
	lgR, _ := math.Lgamma(r)
	lgAB, _ := math.Lgamma(a + b)
	lgBX, _ := math.Lgamma(b + x)
	lgB, _ := math.Lgamma(b)
	lgABX, _ := math.Lgamma(a + b + x)
	ll := lgRX - lgR + r*math.Log(alpha) + lgAB + lgBX - lgB - lgABX
	lnT := -(r + x) * math.Log(alpha+s.T)
	if x == 0 {
		return ll + lnT
	}
	return ll + lnT + softplus(m.logOdds(s))
}

// logOdds returns ln of the second term of the likelihood's last factor
// over its first, ln[a/(b+x−1)] + (r+x) ln[(α+T)/(α+t_x)], for x > 0:
// the log-odds that the customer dropped out after their last purchase.
func (m *BGNBD) logOdds(s Summary) float64 {
	return math.Log(m.A/(m.B+s.X-1)) + (m.R+s.X)*math.Log1p((s.T-s.Tx)/(m.Alpha+s.Tx))
}

// PAlive returns the probability that a customer with summary s is still
// alive at the calibration end, as Fader, Hardie and Lee's note "Computing
// P(alive) using the BG/NBD model" (brucehardie.com/notes/021) gives it:
//
//	P(alive) = 1 / (1 + δ(x>0) a/(b+x−1) ((α+T)/(α+t_x))^(r+x))
//
// It is 1 for a customer without repeat purchases (in BG/NBD one can only
// drop out just after a purchase), and, for x > 0, decreases as T grows.
// For ages far beyond the last purchase it may round to 0.
func (m *BGNBD) PAlive(s Summary) float64 {
	if s.X == 0 {
		return 1
	}
	return 1 / (1 + math.Exp(m.logOdds(s)))
}

// ExpectedPurchases returns the expected number of purchases in the next
// t periods (in the summary's unit) of a customer with summary s,
// equation (10) of the paper:
//
//	E[Y(t) | x, t_x, T] = (a+b+x−1)/(a−1)
//	    × [1 − ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x−1; z)] × P(alive),
//	z = t/(α+T+t).
//
// It evaluates the bracket with Euler's transformation of 2F1,
// 1 − (1−z)^(a−1) 2F1(a−1, a+b−1−r; a+b+x−1; z), whose parameters do not
// grow with x, so that large x and T neither overflow nor lose precision.
// At a = 1, where the formula is 0/0, it is the limit.
func (m *BGNBD) ExpectedPurchases(s Summary, t float64) float64 {
	if !(t > 0) {
		return 0
	}
	z := t / (m.Alpha + s.T + t)
	var e float64
	if d := m.A - 1; math.Abs(d) < aNearOne {
		e = (expectedBracket(1+aNearOne, m.B, m.R, s.X, z) + expectedBracket(1-aNearOne, m.B, m.R, s.X, z)) / 2
	} else {
		e = expectedBracket(m.A, m.B, m.R, s.X, z)
	}
	return math.Max(e, 0) * m.PAlive(s)
}

// aNearOne is how close to 1 a is taken as 1 in [BGNBD.ExpectedPurchases]:
// there the value is the mean of the two sides at 1 ± aNearOne, which
// differs from the limit by O(aNearOne²).
const aNearOne = 1e-5

// expectedBracket returns (a+b+x−1)/(a−1) × [1 − (1−z)^(a−1)
// 2F1(a−1, a+b−1−r; a+b+x−1; z)], the expected purchases of a customer
// known to be alive.
func expectedBracket(a, b, r, x, z float64) float64 {
	c := a + b + x - 1
	f := mathext.Hypergeo(a-1, a+b-1-r, c, z)
	return c / (a - 1) * -math.Expm1((a-1)*math.Log1p(-z)+math.Log(f))
}

// softplus returns ln(1 + e^v) without overflow.
func softplus(v float64) float64 {
	if v > 0 {
		return v + math.Log1p(math.Exp(-v))
	}
	return math.Log1p(math.Exp(v))
}
