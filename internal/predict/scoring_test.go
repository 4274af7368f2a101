package predict

import (
	"math"
	"strings"
	"testing"
)

// models are BG/NBD parameters the scoring tests try: the paper's, and
// others on either side of a = 1 and with large and small rates.
var models = []BGNBD{
	paper,
	{R: 2, Alpha: 0.5, A: 3, B: 0.2},
	{R: 0.05, Alpha: 40, A: 0.1, B: 20},
	{R: 1.2, Alpha: 10, A: 1.7, B: 5},
}

// summaries are inputs for the scoring tests, up to large x and T.
func summaries() []Summary {
	var out []Summary
	for _, T := range []float64{0.5, 10, 38.86, 100, 5000} {
		out = append(out, Summary{T: T})
		for _, x := range []float64{1, 2, 7, 40} {
			for _, f := range []float64{0, 0.3, 0.9, 1} {
				out = append(out, Summary{X: x, Tx: f * T, T: T})
			}
		}
	}
	return out
}

func TestPAliveProperties(t *testing.T) {
	for _, m := range models {
		for _, s := range summaries() {
			p := m.PAlive(s)
			if !(p > 0 && p <= 1) {
				t.Errorf("%+v %+v: P(alive) = %v, want in (0, 1]", m, s, p)
			}
			if s.X == 0 && p != 1 {
				t.Errorf("%+v %+v: P(alive) = %v, want 1 without repeat purchases", m, s, p)
			}
			if s.X > 0 {
				older := s
				older.T += 5
				if q := m.PAlive(older); !(q < p) {
					t.Errorf("%+v: P(alive) %v at T=%v, %v at T=%v: want it to fall with age", m, p, s.T, q, older.T)
				}
			}
		}
	}
}

func TestExpectedPurchasesProperties(t *testing.T) {
	for _, m := range models {
		for _, s := range summaries() {
			prev := m.ExpectedPurchases(s, 0)
			if prev != 0 {
				t.Errorf("%+v %+v: %v purchases in no time", m, s, prev)
			}
			for _, h := range []float64{0.1, 1, 5, 39, 100, 1000, 1e5} {
				e := m.ExpectedPurchases(s, h)
				if !(e >= prev) || math.IsInf(e, 0) {
					t.Errorf("%+v %+v: %v purchases in %v periods after %v: want finite, non-negative and growing", m, s, e, h, prev)
				}
				prev = e
			}
		}
	}
}

// hypergeoSeries sums the Gaussian hypergeometric series directly, for
// |z| < 1.
func hypergeoSeries(a, b, c, z float64) float64 {
	sum, term := 1.0, 1.0
	for n := 0.0; n < 1e5; n++ {
		term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
		sum += term
		if math.Abs(term) < 1e-17*math.Abs(sum) {
			break
		}
	}
	return sum
}

// TestExpectedPurchasesIsEquation10: the transformed evaluation equals the
// paper's equation (10) with 2F1 summed as a series.
func TestExpectedPurchasesIsEquation10(t *testing.T) {
	for _, m := range models {
		for _, s := range summaries() {
			if s.X > 10 || s.T > 100 {
				continue // the plain series loses digits there: that is why the code transforms it
			}
			for _, h := range []float64{1, 39, 100} {
				r, al, a, b, x := m.R, m.Alpha, m.A, m.B, s.X
				z := h / (al + s.T + h)
				bracket := 1 - math.Pow((al+s.T)/(al+s.T+h), r+x)*hypergeoSeries(r+x, b+x, a+b+x-1, z)
				want := (a + b + x - 1) / (a - 1) * bracket * m.PAlive(s)
				if got := m.ExpectedPurchases(s, h); relDiff(got, want) > 1e-9 {
					t.Errorf("%+v %+v t=%v: %.12g, equation (10) gives %.12g", m, s, h, got, want)
				}
			}
		}
	}
}

// TestExpectedPurchasesAtAOne: at a = 1, where equation (10) is 0/0, the
// value is continuous with its neighbours.
func TestExpectedPurchasesAtAOne(t *testing.T) {
	s := Summary{X: 3, Tx: 20, T: 38}
	at := func(a float64) float64 {
		m := BGNBD{R: 0.5, Alpha: 5, A: a, B: 2}
		return m.ExpectedPurchases(s, 39)
	}
	below, one, above := at(1-1e-3), at(1), at(1+1e-3)
	if math.IsNaN(one) || math.Abs(one-(below+above)/2) > 1e-5 || !(math.Min(below, above) < one && one < math.Max(below, above)) {
		t.Errorf("expected purchases at a = 1-1e-3, 1, 1+1e-3: %v %v %v", below, one, above)
	}
}

func TestExpectedSpend(t *testing.T) {
	m := GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	mean := m.P * m.Gamma / (m.Q - 1)
	if got := m.ExpectedSpend(Spend{}); math.Abs(got-mean) > 1e-12 {
		t.Errorf("no repeat purchase: %v, want the population mean %v", got, mean)
	}
	prev := mean
	for _, x := range []float64{1, 2, 5, 50, 5000} {
		got := m.ExpectedSpend(Spend{X: x, Mean: 100})
		if !(got > prev && got < 100) {
			t.Errorf("x=%v, mean 100: %v, want between %v and 100, closer to 100 with more purchases", x, got, prev)
		}
		prev = got
	}
}

// TestPAliveIsTheFormula: the log-space evaluation equals the formula of
// Fader, Hardie and Lee's note computed plainly, where that does not
// overflow.
func TestPAliveIsTheFormula(t *testing.T) {
	for _, m := range models {
		for _, s := range summaries() {
			if s.X == 0 || s.T > 100 {
				continue
			}
			want := 1 / (1 + m.A/(m.B+s.X-1)*math.Pow((m.Alpha+s.T)/(m.Alpha+s.Tx), m.R+s.X))
			if got := m.PAlive(s); relDiff(got, want) > 1e-12 {
				t.Errorf("%+v %+v: P(alive) %.15g, the formula gives %.15g", m, s, got, want)
			}
		}
	}
}

func TestBGNBDValidate(t *testing.T) {
	if err := paper.Validate(); err != nil {
		t.Errorf("the paper's model: %v", err)
	}
	for _, m := range []BGNBD{{R: 0, Alpha: 1, A: 1, B: 1}, {R: 1, Alpha: math.Inf(1), A: 1, B: 1}, {R: 1, Alpha: 1, A: math.NaN(), B: 1}, {R: 1, Alpha: 1, A: 1, B: -2}} {
		if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "it must be a finite number > 0") {
			t.Errorf("%+v: %v, want an error naming the parameter", m, err)
		}
	}
}
