package predict

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
)

// FitBGNBD fits BG/NBD to the summaries of a population by maximum
// likelihood over (r, alpha, a, b) > 0. It optimises the logarithms of the
// parameters with BFGS and the analytic gradient, summing the likelihood
// once per distinct (x, t_x, T), and the terms that depend on x alone once
// per distinct x.
//
// It returns the model and its diagnostics, or an error when a summary is
// invalid, when fewer than MinRepeaters customers made a repeat purchase, or
// when the fit does not converge; the report, when not nil, then says where
// the optimiser stopped. It never returns a model it did not converge to.
func FitBGNBD(s []Summary, opts FitOptions) (*BGNBD, *FitReport, error) {
	o := opts.withDefaults()
	d, err := groupSummaries(s)
	if err != nil {
		return nil, nil, err
	}
	rep := &FitReport{Model: "bg/nbd", Customers: len(s), Repeaters: d.repeaters, Groups: len(d.groups)}
	if d.repeaters < o.MinRepeaters {
		return nil, rep, fmt.Errorf("bg/nbd fit: %d of %d customers made a repeat purchase; at least %d are needed (FitOptions.MinRepeaters): fit on a longer calibration period or a larger population", d.repeaters, len(s), o.MinRepeaters)
	}
	theta, err := problem{d.objective(o.Workers), d.start(), d.customers, []string{"r", "alpha", "a", "b"}, o}.minimize(rep)
	if err != nil {
		return nil, rep, err
	}
	return &BGNBD{R: math.Exp(theta[0]), Alpha: math.Exp(theta[1]), A: math.Exp(theta[2]), B: math.Exp(theta[3])}, rep, nil
}

// summaryGroup is a distinct summary and the number of customers with it.
type summaryGroup struct {
	Summary
	n  float64
	xi int // index of X in bgnbdData.xs
}

// xCount is a distinct x and the number of customers with it.
type xCount struct{ x, n float64 }

// bgnbdData is a population grouped for the likelihood.
type bgnbdData struct {
	groups    []summaryGroup // sorted by x, t_x, T
	xs        []xCount       // sorted by x
	customers float64
	repeaters int
	sumX      float64
	sumT      float64
}

// groupSummaries validates the summaries and groups identical ones.
func groupSummaries(s []Summary) (*bgnbdData, error) {
	if len(s) == 0 {
		return nil, errors.New("bg/nbd fit: no customers: give at least one summary")
	}
	counts := map[Summary]float64{}
	d := &bgnbdData{customers: float64(len(s))}
	for i, v := range s {
		if err := validSummary(v); err != nil {
			return nil, fmt.Errorf("bg/nbd fit: summary %d (x=%v, t_x=%v, T=%v): %w", i, v.X, v.Tx, v.T, err)
		}
		counts[v]++
		if v.X > 0 {
			d.repeaters++
		}
		d.sumX += v.X
		d.sumT += v.T
	}
	for v, n := range counts {
		d.groups = append(d.groups, summaryGroup{Summary: v, n: n})
	}
	slices.SortFunc(d.groups, func(a, b summaryGroup) int {
		return cmp.Or(cmp.Compare(a.X, b.X), cmp.Compare(a.Tx, b.Tx), cmp.Compare(a.T, b.T))
	})
	for i := range d.groups {
		g := &d.groups[i]
		if len(d.xs) == 0 || d.xs[len(d.xs)-1].x != g.X {
			d.xs = append(d.xs, xCount{x: g.X})
		}
		g.xi = len(d.xs) - 1
		d.xs[g.xi].n += g.n
	}
	return d, nil
}

// validSummary reports a summary the model cannot read.
func validSummary(v Summary) error {
	switch {
	case !(v.X >= 0) || math.IsInf(v.X, 0) || v.X != math.Trunc(v.X):
		return errors.New("x must be a whole number >= 0")
	case !(v.T >= 0) || math.IsInf(v.T, 0):
		return errors.New("the age T must be a finite number >= 0")
	case !(v.Tx >= 0) || v.Tx > v.T:
		return errors.New("t_x must be between 0 and T: recency cannot exceed age")
	case v.X == 0 && v.Tx != 0:
		return errors.New("t_x must be 0 when x is 0 (no repeat purchase has no recency)")
	}
	return nil
}

// start returns data-scaled log-parameters to start from: r = 1 and alpha
// such that r/alpha is the mean repeat rate, a = b = 1.
func (d *bgnbdData) start() []float64 {
	rate := d.sumX / math.Max(d.sumT, 1e-12)
	alpha := 1 / math.Max(rate, 1e-12)
	return []float64{0, math.Log(alpha), 0, 0}
}

// objective returns the mean negative log-likelihood per customer, with
// its gradient in log-parameters.
func (d *bgnbdData) objective(workers int) objective {
	sum := newChunkedSum(len(d.groups), 4, workers)
	lodds := make([]float64, len(d.xs)) // ln(a/(b+x−1)) per distinct x
	groupGrad := make([]float64, 4)
	return func(theta, grad []float64) float64 {
		r, alpha, a, b := math.Exp(theta[0]), math.Exp(theta[1]), math.Exp(theta[2]), math.Exp(theta[3])
		ll := d.xTerms(r, alpha, a, b, grad, lodds)
		ll += sum.run(func(lo, hi int, g []float64) float64 {
			return d.groupTerms(d.groups[lo:hi], r, alpha, a, b, lodds, g)
		}, groupGrad)
		for i, v := range groupGrad {
			grad[i] += v
		}
		scale := -1 / d.customers
		for i, p := range []float64{r, alpha, a, b} {
			grad[i] *= p * scale // chain rule: d/d(ln p) = p d/dp
		}
		return ll * scale
	}
}

// xTerms returns the part of the log-likelihood that depends on x alone,
// ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b) summed over
// customers, sets grad to its gradient in (r, alpha, a, b), and fills
// lodds with ln(a/(b+x−1)) per distinct x.
func (d *bgnbdData) xTerms(r, alpha, a, b float64, grad, lodds []float64) float64 {
	lgR, _ := math.Lgamma(r)
	lgB, _ := math.Lgamma(b)
	lgAB, _ := math.Lgamma(a + b)
	psiR, psiB, psiAB := mathext.Digamma(r), mathext.Digamma(b), mathext.Digamma(a+b)
	lnAlpha := math.Log(alpha)
	ll := d.customers * r * lnAlpha
	grad[0], grad[1], grad[2], grad[3] = d.customers*lnAlpha, d.customers*r/alpha, 0, 0
	for i, xc := range d.xs {
		x, n := xc.x, xc.n
		if x == 0 {
			continue
		}
		lodds[i] = math.Log(a / (b + x - 1))
		lgRX, _ := math.Lgamma(r + x)
		lgBX, _ := math.Lgamma(b + x)
		lgABX, _ := math.Lgamma(a + b + x)
		ll += n * (lgRX - lgR + lgAB + lgBX - lgB - lgABX)
		psiABX := mathext.Digamma(a + b + x)
		grad[0] += n * (mathext.Digamma(r+x) - psiR)
		grad[2] += n * (psiAB - psiABX)
		grad[3] += n * (psiAB + mathext.Digamma(b+x) - psiB - psiABX)
	}
	return ll
}

// groupTerms returns the rest of the log-likelihood over groups,
// ln[(α+T)^−(r+x) + δ(x>0) a/(b+x−1) (α+t_x)^−(r+x)] times the group's
// size, and adds its gradient in (r, alpha, a, b) to g.
func (d *bgnbdData) groupTerms(groups []summaryGroup, r, alpha, a, b float64, lodds, g []float64) float64 {
	var ll, gr, ga, gA, gB float64
	for i := range groups {
		v := &groups[i]
		lT := math.Log(alpha + v.T)
		rx := r + v.X
		if v.X == 0 {
			ll -= v.n * rx * lT
			gr -= v.n * lT
			ga -= v.n * rx / (alpha + v.T)
			continue
		}
		l := math.Log1p((v.T - v.Tx) / (alpha + v.Tx)) // ln((α+T)/(α+t_x))
		z := lodds[v.xi] + rx*l                        // log-odds of the dropout term
		e := math.Exp(-math.Abs(z))
		w := 1 / (1 + e) // weight of the dropout term, sigmoid(z)
		if z < 0 {
			w = e / (1 + e)
		}
		ll += v.n * (-rx*lT + math.Max(z, 0) + math.Log1p(e))
		gr += v.n * (-lT + w*l)
		ga -= v.n * rx * ((1-w)/(alpha+v.T) + w/(alpha+v.Tx))
		gA += v.n * w / a
		gB -= v.n * w / (b + v.X - 1)
	}
	g[0], g[1], g[2], g[3] = g[0]+gr, g[1]+ga, g[2]+gA, g[3]+gB
	return ll
}
