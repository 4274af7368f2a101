package population

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// benchValues returns n spend-like values (lognormal, with a fixed seed),
// made once per n.
var benchValues = sync.OnceValue(func() func(int) []float64 {
	var mu sync.Mutex
	made := map[int][]float64{}
	return func(n int) []float64 {
		mu.Lock()
		defer mu.Unlock()
		if v, ok := made[n]; ok {
			return v
		}
		rng := rand.New(rand.NewPCG(15, 15))
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Round(math.Exp(5+1.5*rng.NormFloat64())*100) / 100
		}
		made[n] = v
		return v
	}
})()

// columnCases are the sizes and paths docs/benchmarks.md reports.
var columnCases = []struct {
	name string
	n    int
	opts Options
}{
	{"exact/1M", 1_000_000, Options{}},
	{"exact/10M", 10_000_000, Options{ExactLimit: -1}},
	{"sketch/1M", 1_000_000, Options{ExactLimit: 1}},
	{"sketch/10M", 10_000_000, Options{}},
}

// BenchmarkColumn times a whole population fact over n customers: Add
// every value, Freeze, then look every value up (percentile rank, a
// quintile and an ABC class). It reports the time per customer of each
// phase.
func BenchmarkColumn(b *testing.B) {
	cuts, _ := NewCuts(0.8, 0.95)
	for _, bc := range columnCases {
		b.Run(bc.name, func(b *testing.B) {
			vals := benchValues(bc.n)
			var add, freeze, lookup time.Duration
			var sink float64
			for b.Loop() {
				start := time.Now()
				c := NewColumn("spend_12m", bc.opts)
				for _, v := range vals {
					_ = c.Add(v, true)
				}
				frozen := time.Now()
				_ = c.Freeze()
				looking := time.Now()
				for _, v := range vals {
					sink += c.PercentRank(v) + float64(c.Ntile(v, 5)+len(c.ABC(v, cuts)))
				}
				add, freeze, lookup = add+frozen.Sub(start), freeze+looking.Sub(frozen), lookup+time.Since(looking)
			}
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / float64(bc.n) }
			b.ReportMetric(per(add), "add-ns/customer")
			b.ReportMetric(per(freeze), "freeze-ns/customer")
			b.ReportMetric(per(lookup), "lookup-ns/customer")
			b.ReportMetric(per(add+freeze+lookup), "ns/customer")
			if sink == 0 {
				b.Fatal("no lookups")
			}
		})
	}
}

// BenchmarkLookup times one customer's lookups (percentile rank, a
// quintile, an ABC class) on a frozen column of 1M values (exact) and of
// 10M (sketched).
func BenchmarkLookup(b *testing.B) {
	cuts, _ := NewCuts(0.8, 0.95)
	for _, bc := range []struct {
		name string
		n    int
	}{{"exact/1M", 1_000_000}, {"sketch/10M", 10_000_000}} {
		b.Run(bc.name, func(b *testing.B) {
			vals := benchValues(bc.n)
			c := NewColumn("spend_12m", Options{})
			for _, v := range vals {
				_ = c.Add(v, true)
			}
			_ = c.Freeze()
			queries := make([]float64, 4096) // few enough to stay in cache
			for i := range queries {
				queries[i] = vals[i*7919%len(vals)]
			}
			var sink float64
			for i := 0; b.Loop(); i++ {
				v := queries[i%len(queries)]
				sink += c.PercentRank(v) + float64(c.Ntile(v, 5)+len(c.ABC(v, cuts)))
			}
			if sink == 0 {
				b.Fatal("no lookups")
			}
		})
	}
}
