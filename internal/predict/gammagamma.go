package predict

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// GammaGamma is a fitted Gamma-Gamma spend model (Fader, Hardie and Lee
// 2005, "RFM and CLV", section 4; Fader and Hardie 2013, "The Gamma-Gamma
// model of monetary value"): a customer's transaction values are
// Gamma(P, nu) with nu ~ Gamma(Q, Gamma) across customers, independent of
// how often they buy. Gamma is in the currency of the spends it was fitted
// on. Its methods are safe for concurrent use and do not allocate.
type GammaGamma struct {
	P     float64 `json:"p"`
	Q     float64 `json:"q"`
	Gamma float64 `json:"gamma"`
}

// LogLikelihood returns the log-likelihood of one customer's mean repeat
// value m over x > 0 repeat purchases, the density of the mean given x
// (Fader and Hardie 2013):
//
//	ln f = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ
//	     + (px−1) ln m + px ln x − (px+q) ln(γ + m x)
//
// It is 0 for x = 0, which says nothing of spend.
func (m *GammaGamma) LogLikelihood(s Spend) float64 {
	if s.X == 0 {
		return 0
	}
	px := m.P * s.X
	lgPXQ, _ := math.Lgamma(px + m.Q)
	lgPX, _ := math.Lgamma(px)
	lgQ, _ := math.Lgamma(m.Q)
	return lgPXQ - lgPX - lgQ + m.Q*math.Log(m.Gamma) + (px-1)*math.Log(s.Mean) + px*math.Log(s.X) - (px+m.Q)*math.Log(m.Gamma+s.Mean*s.X)
}

// ExpectedSpend returns the expected value of a customer's future
// transactions given their spend (Fader and Hardie 2013):
//
//	E[Z | x, m] = p (γ + m x) / (p x + q − 1)
//
// a weighted mean of the population's mean p γ / (q − 1), the value for
// x = 0, and the customer's own mean m.
func (m *GammaGamma) ExpectedSpend(s Spend) float64 {
	return m.P * (m.Gamma + s.Mean*s.X) / (m.P*s.X + m.Q - 1)
}

// FitGammaGamma fits Gamma-Gamma to the spends of the customers with a
// repeat purchase (those with x = 0 are skipped) by maximum likelihood over
// (p, q, gamma) > 0, as [FitBGNBD] does, and requires q > 1, without which
// the population has no mean spend. Errors name the spend at fault.
func FitGammaGamma(s []Spend, opts FitOptions) (*GammaGamma, *FitReport, error) {
	o := opts.withDefaults()
	d, err := spendData(s)
	if err != nil {
		return nil, nil, err
	}
	rep := &FitReport{Model: "gamma-gamma", Customers: len(s), Repeaters: len(d.x), Groups: len(d.x)}
	if len(d.x) < o.MinRepeaters {
		return nil, rep, fmt.Errorf("gamma-gamma fit: %d of %d customers made a repeat purchase; at least %d are needed (FitOptions.MinRepeaters): fit on a longer calibration period or a larger population", len(d.x), len(s), o.MinRepeaters)
	}
	theta, err := problem{d.objective(o.Workers), d.start(), float64(len(d.x)), []string{"p", "q", "gamma"}, o}.minimize(rep)
	if err != nil {
		return nil, rep, err
	}
	m := &GammaGamma{P: math.Exp(theta[0]), Q: math.Exp(theta[1]), Gamma: math.Exp(theta[2])}
	if m.Q <= 1 {
		return nil, rep, fmt.Errorf("gamma-gamma fit: q = %.4g <= 1: the fitted spend distribution has no mean, so expected spend is undefined; check the spends for extreme values", m.Q)
	}
	return m, rep, nil
}

// gammaGammaData is the spends of the customers with x > 0, with the
// sums of the likelihood's terms that do not depend on the parameters.
type gammaGammaData struct {
	x, mx   []float64 // x and m·x per customer
	xs      []xCount  // distinct x
	sumXLnM float64   // Σ x ln m
	sumLnM  float64   // Σ ln m
	sumMean float64
}

// spendData validates the spends and keeps those with x > 0.
func spendData(s []Spend) (*gammaGammaData, error) {
	d := &gammaGammaData{}
	counts := map[float64]float64{}
	for i, v := range s {
		switch {
		case !(v.X >= 0) || math.IsInf(v.X, 0) || v.X != math.Trunc(v.X):
			return nil, fmt.Errorf("gamma-gamma fit: spend %d: x = %v: it must be a whole number >= 0", i, v.X)
		case v.X == 0:
			continue
		case !(v.Mean > 0) || math.IsInf(v.Mean, 0):
			return nil, fmt.Errorf("gamma-gamma fit: spend %d: mean %v over %v repeat purchases: Gamma-Gamma needs a positive mean value; leave out customers whose returns cancel their purchases", i, v.Mean, v.X)
		}
		d.x = append(d.x, v.X)
		d.mx = append(d.mx, v.Mean*v.X)
		d.sumXLnM += v.X * math.Log(v.Mean)
		d.sumLnM += math.Log(v.Mean)
		d.sumMean += v.Mean
		counts[v.X]++
	}
	for x, n := range counts {
		d.xs = append(d.xs, xCount{x: x, n: n})
	}
	slices.SortFunc(d.xs, func(a, b xCount) int { return cmp.Compare(a.x, b.x) })
	return d, nil
}

// start returns data-scaled log-parameters to start from: p = 1, q = 2
// and gamma such that the population mean p γ / (q − 1) is the mean spend.
func (d *gammaGammaData) start() []float64 {
	return []float64{0, math.Log(2), math.Log(math.Max(d.sumMean/math.Max(float64(len(d.x)), 1), 1e-12))}
}

// objective returns the mean negative log-likelihood per customer, with
// its gradient in log-parameters. Only ln(γ + m x) is summed per customer;
// the Gamma functions are summed per distinct x.
func (d *gammaGammaData) objective(workers int) objective {
	sum := newChunkedSum(len(d.x), 3, workers)
	perCustomer := make([]float64, 3)
	return func(theta, grad []float64) float64 {
		p, q, g := math.Exp(theta[0]), math.Exp(theta[1]), math.Exp(theta[2])
		ll := d.xTerms(p, q, g, grad)
		ll -= sum.run(func(lo, hi int, gr []float64) float64 {
			var ll, gp, gq, gg float64
			for i := lo; i < hi; i++ {
				x, lnGMX := d.x[i], math.Log(g+d.mx[i])
				ll += (p*x + q) * lnGMX
				gp += x * lnGMX
				gq += lnGMX
				gg += (p*x + q) / (g + d.mx[i])
			}
			gr[0], gr[1], gr[2] = gr[0]+gp, gr[1]+gq, gr[2]+gg
			return ll
		}, perCustomer)
		scale := -1 / float64(len(d.x))
		for i, v := range []float64{p, q, g} {
			grad[i] = (grad[i] - perCustomer[i]) * v * scale
		}
		return ll * scale
	}
}

// xTerms returns the log-likelihood but for −Σ (px+q) ln(γ + m x), and sets
// grad to its gradient in (p, q, gamma).
func (d *gammaGammaData) xTerms(p, q, g float64, grad []float64) float64 {
	lgQ, _ := math.Lgamma(q)
	psiQ, lnG := mathext.Digamma(q), math.Log(g)
	ll := p*d.sumXLnM - d.sumLnM
	grad[0], grad[1], grad[2] = d.sumXLnM, 0, 0
	for _, xc := range d.xs {
		x, n, px := xc.x, xc.n, p*xc.x
		lgPXQ, _ := math.Lgamma(px + q)
		lgPX, _ := math.Lgamma(px)
		psiPXQ := mathext.Digamma(px + q)
		ll += n * (lgPXQ - lgPX - lgQ + q*lnG + px*math.Log(x))
		grad[0] += n * x * (psiPXQ - mathext.Digamma(px) + math.Log(x))
		grad[1] += n * (psiPXQ - psiQ + lnG)
		grad[2] += n * q / g
	}
	return ll
}
