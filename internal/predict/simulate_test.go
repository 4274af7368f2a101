package predict

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// paper is the BG/NBD fit of the paper on CDNOW, in weeks.
var paper = BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}

// simulate draws n customers from the BG/NBD model m (alpha in days): a
// first purchase on one of the first 84 days (a quarter's cohort, as in
// CDNOW), then purchases at rate lambda ~ Gamma(r, alpha) until a dropout
// of probability p ~ Beta(a, b) after each, observed to day 272, summarised
// in weeks. With days true, purchase times are whole days and purchases on
// the same day are one, as Summarize counts them; otherwise times are exact.
func simulate(n int, m BGNBD, seed uint64, days bool) []Summary {
	src := rand.NewPCG(seed, 1)
	rnd := rand.New(src)
	lambda := distuv.Gamma{Alpha: m.R, Beta: m.Alpha, Src: src}
	p := distuv.Beta{Alpha: m.A, Beta: m.B, Src: src}
	out := make([]Summary, n)
	for i := range out {
		age := float64(272 - rnd.IntN(84))
		out[i] = simulateOne(rnd, lambda.Rand(), p.Rand(), age, days)
	}
	return out
}

func simulateOne(rnd *rand.Rand, lambda, p, age float64, days bool) Summary {
	var x, last, t float64
	for {
		t += rnd.ExpFloat64() / lambda
		at := t
		if days {
			at = math.Floor(t)
		}
		if at > age {
			break
		}
		if !days || at > last {
			x, last = x+1, at
		}
		if rnd.Float64() < p {
			break
		}
	}
	return Summary{X: x, Tx: last / 7, T: age / 7}
}
