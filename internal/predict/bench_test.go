package predict

import (
	"math/rand/v2"
	"sync"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// benchCustomers is the size of the benchmark population.
const benchCustomers = 1_000_000

var (
	benchOnce   sync.Once
	benchPop    []Summary
	benchSpends []Spend
)

// benchPopulation returns 1,000,000 customers drawn from the paper's
// BG/NBD fit, with purchases on whole days as Summarize counts them, in
// weeks, and the mean of their repeat purchases drawn from the published
// Gamma-Gamma fit (p = 6.25, q = 3.74, gamma = 15.44).
func benchPopulation(b *testing.B) ([]Summary, []Spend) {
	b.Helper()
	benchOnce.Do(func() {
		benchPop = simulate(benchCustomers, inDays(paper), 42, true)
		src := rand.NewPCG(43, 1)
		nu := distuv.Gamma{Alpha: 3.74, Beta: 15.44, Src: src}
		benchSpends = make([]Spend, len(benchPop))
		for i, s := range benchPop {
			if s.X > 0 {
				// the mean of x Gamma(p, ν) values is Gamma(p x, ν x)
				mean := distuv.Gamma{Alpha: 6.25 * s.X, Beta: nu.Rand() * s.X, Src: src}
				benchSpends[i] = Spend{X: s.X, Mean: mean.Rand()}
			}
		}
	})
	return benchPop, benchSpends
}

func benchFitBGNBD(b *testing.B, workers int) {
	s, _ := benchPopulation(b)
	var rep *FitReport
	for b.Loop() {
		var err error
		if _, rep, err = FitBGNBD(s, FitOptions{Workers: workers}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rep.Groups), "groups")
	b.ReportMetric(float64(rep.Iterations), "iterations")
	b.ReportMetric(float64(rep.FuncEvaluations), "evaluations")
}

// BenchmarkFitBGNBD1M fits BG/NBD to 1,000,000 customers: grouping and
// the optimisation, with one worker per core (GOMAXPROCS).
func BenchmarkFitBGNBD1M(b *testing.B) { benchFitBGNBD(b, 0) }

// BenchmarkFitBGNBD1MOneWorker is the same fit on one goroutine.
func BenchmarkFitBGNBD1MOneWorker(b *testing.B) { benchFitBGNBD(b, 1) }

// BenchmarkFitGammaGamma1M fits Gamma-Gamma to the repeat customers of the
// 1,000,000.
func BenchmarkFitGammaGamma1M(b *testing.B) {
	_, sp := benchPopulation(b)
	var rep *FitReport
	for b.Loop() {
		var err error
		if _, rep, err = FitGammaGamma(sp, FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rep.Repeaters), "repeaters")
	b.ReportMetric(float64(rep.Iterations), "iterations")
}

var sink float64

// BenchmarkScore scores one customer per operation, cycling through the
// 1,000,000: P(alive), expected purchases in the next 39 weeks and
// expected spend.
func BenchmarkScore(b *testing.B) {
	s, sp := benchPopulation(b)
	m, g := paper, GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	i := 0
	for b.Loop() {
		c := s[i]
		sink += m.PAlive(c) + m.ExpectedPurchases(c, 39) + g.ExpectedSpend(sp[i])
		if i++; i == len(s) {
			i = 0
		}
	}
}

// BenchmarkScoreParallel is BenchmarkScore on every core.
func BenchmarkScoreParallel(b *testing.B) {
	s, sp := benchPopulation(b)
	m, g := paper, GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	b.RunParallel(func(pb *testing.PB) {
		var local float64
		i := rand.IntN(len(s))
		for pb.Next() {
			local += m.PAlive(s[i]) + m.ExpectedPurchases(s[i], 39) + g.ExpectedSpend(sp[i])
			if i++; i == len(s) {
				i = 0
			}
		}
		_ = local
	})
}

// BenchmarkExpectedPurchases scores the expected purchases alone.
func BenchmarkExpectedPurchases(b *testing.B) {
	s, _ := benchPopulation(b)
	m := paper
	i := 0
	for b.Loop() {
		sink += m.ExpectedPurchases(s[i], 39)
		if i++; i == len(s) {
			i = 0
		}
	}
}

var (
	distinctOnce sync.Once
	distinctPop  []Summary
)

// BenchmarkFitBGNBD1MDistinct is the worst case for grouping: 1,000,000
// customers with exact purchase times, nearly all summaries distinct.
func BenchmarkFitBGNBD1MDistinct(b *testing.B) {
	distinctOnce.Do(func() { distinctPop = simulate(benchCustomers, inDays(paper), 44, false) })
	var rep *FitReport
	for b.Loop() {
		var err error
		if _, rep, err = FitBGNBD(distinctPop, FitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rep.Groups), "groups")
	b.ReportMetric(float64(rep.Iterations), "iterations")
	b.ReportMetric(float64(rep.FuncEvaluations), "evaluations")
}
