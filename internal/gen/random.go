package gen

import (
	"math"
	"math/rand/v2"
)

// stream is a random stream that is reseeded for each customer, so that a
// customer's facts depend only on the seed and its ID, never on which
// customers were generated before it.
type stream struct {
	pcg *rand.PCG
	*rand.Rand
}

func newStream() *stream {
	pcg := rand.NewPCG(0, 0)
	return &stream{pcg: pcg, Rand: rand.New(pcg)}
}

// reset seeds the stream for one customer of one population.
func (s *stream) reset(seed int64, salt uint64, id int64) {
	a := splitmix(uint64(seed) ^ salt)
	s.pcg.Seed(splitmix(a^uint64(id)), splitmix(a+uint64(id)*0x9e3779b97f4a7c15))
}

// splitmix is SplitMix64's finaliser: a cheap, well-mixed 64-bit hash.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// pick returns the index of the weight u falls into; cum holds the
// cumulative weights, ending at 1.
func pick(cum []float64, u float64) int {
	for i, c := range cum {
		if u < c {
			return i
		}
	}
	return len(cum) - 1
}

// cumulative turns weights into cumulative shares ending at 1.
func cumulative(w ...float64) []float64 {
	var sum float64
	for _, x := range w {
		sum += x
	}
	out := make([]float64, len(w))
	var acc float64
	for i, x := range w {
		acc += x
		out[i] = acc / sum
	}
	out[len(out)-1] = 1
	return out
}

// lognormal returns exp(mu + sigma*N(0,1)).
func (s *stream) lognormal(mu, sigma float64) float64 {
	return math.Exp(mu + sigma*s.NormFloat64())
}

// pareto returns a Pareto(1, alpha) draw: 1 or more, with a tail that
// falls like x^-alpha.
func (s *stream) pareto(alpha float64) float64 {
	return math.Pow(1-s.Float64(), -1/alpha)
}

// chance reports true with probability p.
func (s *stream) chance(p float64) bool { return s.Float64() < p }

// cents rounds an amount of money to two decimals.
func cents(v float64) float64 { return math.Round(v*100) / 100 }
