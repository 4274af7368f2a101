package predict

import (
	"math"
	"testing"
)

// inDays returns m with alpha in days rather than weeks.
func inDays(m BGNBD) BGNBD { m.Alpha *= 7; return m }

func relDiff(a, b float64) float64 {
	return math.Abs(a-b) / math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// logs returns the natural logs of v.
func logs(v ...float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Log(x)
	}
	return out
}

// TestGroupedLikelihoodIsPerCustomerSum: the fit's grouped objective is
// the mean of the per-customer log-likelihood, negated.
func TestGroupedLikelihoodIsPerCustomerSum(t *testing.T) {
	s := simulate(30000, inDays(paper), 1, true)
	d, err := groupSummaries(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.groups) <= chunkSize {
		t.Fatalf("%d groups: the test should span several chunks", len(d.groups))
	}
	for _, m := range []BGNBD{paper, {R: 2, Alpha: 0.5, A: 3, B: 0.2}, {R: 0.01, Alpha: 40, A: 0.05, B: 50}} {
		var want float64
		for _, v := range s {
			want += m.LogLikelihood(v)
		}
		grad := make([]float64, 4)
		got := -d.objective(3)(logs(m.R, m.Alpha, m.A, m.B), grad) * float64(len(s))
		if relDiff(got, want) > 1e-10 {
			t.Errorf("%+v: grouped log-likelihood %.10g, per customer %.10g", m, got, want)
		}
	}
}

// checkGradient compares an objective's analytic gradient with central
// finite differences at theta.
func checkGradient(t *testing.T, name string, obj objective, theta []float64) {
	t.Helper()
	grad := make([]float64, len(theta))
	obj(theta, grad)
	scratch := make([]float64, len(theta))
	for i := range theta {
		const h = 1e-6
		up, down := append([]float64(nil), theta...), append([]float64(nil), theta...)
		up[i] += h
		down[i] -= h
		fd := (obj(up, scratch) - obj(down, scratch)) / (2 * h)
		if math.Abs(fd-grad[i]) > 1e-6*math.Max(1, math.Abs(fd)) {
			t.Errorf("%s at %v: d/dθ%d analytic %.9g, finite differences %.9g", name, theta, i, grad[i], fd)
		}
	}
}

func TestGradientsMatchFiniteDifferences(t *testing.T) {
	d, err := groupSummaries(simulate(5000, inDays(paper), 2, true))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []BGNBD{paper, {R: 2, Alpha: 0.5, A: 3, B: 0.2}, {R: 0.05, Alpha: 40, A: 0.1, B: 20}} {
		checkGradient(t, "bg/nbd", d.objective(1), logs(m.R, m.Alpha, m.A, m.B))
	}
	var spends []Spend
	for i := range 3000 {
		spends = append(spends, Spend{X: float64(i%7 + 1), Mean: 5 + float64(i%113)})
	}
	gd, err := spendData(spends)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []GammaGamma{{P: 6.25, Q: 3.74, Gamma: 15.44}, {P: 0.5, Q: 1.5, Gamma: 200}} {
		checkGradient(t, "gamma-gamma", gd.objective(1), logs(m.P, m.Q, m.Gamma))
	}
}

// TestGammaGammaGroupedIsPerCustomerSum: the Gamma-Gamma objective is the
// mean of the per-customer log-likelihood, negated.
func TestGammaGammaGroupedIsPerCustomerSum(t *testing.T) {
	var spends []Spend
	for i := range 20000 {
		spends = append(spends, Spend{X: float64(i % 5), Mean: 3 + float64(i%97)*1.5})
	}
	d, err := spendData(spends)
	if err != nil {
		t.Fatal(err)
	}
	m := GammaGamma{P: 2, Q: 3, Gamma: 40}
	var want float64
	for _, s := range spends {
		want += m.LogLikelihood(s)
	}
	got := -d.objective(2)(logs(m.P, m.Q, m.Gamma), make([]float64, 3)) * float64(len(d.x))
	if relDiff(got, want) > 1e-10 {
		t.Errorf("grouped log-likelihood %.10g, per customer %.10g", got, want)
	}
}

// TestFitIsIndependentOfWorkers: the same data give the same bits with
// one worker or several.
func TestFitIsIndependentOfWorkers(t *testing.T) {
	s := simulate(60000, inDays(paper), 3, false)
	m1, r1, err1 := FitBGNBD(s, FitOptions{Workers: 1})
	m4, r4, err4 := FitBGNBD(s, FitOptions{Workers: 4})
	if err1 != nil || err4 != nil {
		t.Fatal(err1, err4)
	}
	if r1.Groups <= chunkSize {
		t.Fatalf("%d groups: the test should span several chunks", r1.Groups)
	}
	if *m1 != *m4 || r1.LogLikelihood != r4.LogLikelihood || r1.Iterations != r4.Iterations {
		t.Errorf("1 worker: %+v %v; 4 workers: %+v %v", *m1, r1.LogLikelihood, *m4, r4.LogLikelihood)
	}
}

// TestFitRecoversSimulatedParameters: on 200,000 customers drawn from the
// model with exact purchase times (rates per day, summaries in weeks), the
// fit lands near the parameters drawn from, within a few standard errors.
func TestFitRecoversSimulatedParameters(t *testing.T) {
	if testing.Short() {
		t.Skip("draws 200,000 customers")
	}
	truth := paper
	m, _, err := FitBGNBD(simulate(200000, inDays(truth), 4, false), FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name       string
		got, truth float64
		tol        float64
	}{{"r", m.R, truth.R, 0.05}, {"alpha", m.Alpha, truth.Alpha, 0.05}, {"a", m.A, truth.A, 0.10}, {"b", m.B, truth.B, 0.10}} {
		t.Logf("%s = %.4f, drawn with %.4f", p.name, p.got, p.truth)
		if math.Abs(p.got/p.truth-1) > p.tol {
			t.Errorf("%s = %.4f, drawn with %.4f (tolerance %.0f%%)", p.name, p.got, p.truth, p.tol*100)
		}
	}
}
