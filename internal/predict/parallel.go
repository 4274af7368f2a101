package predict

import (
	"sync"
	"sync/atomic"
)

// chunkSize is the number of likelihood terms one worker sums at a time.
// Chunks are fixed by position, and their sums are added in order, so a
// sum does not depend on the number of workers.
const chunkSize = 8192

// chunkedSum sums a function and its gradient over n terms in chunks,
// with up to workers goroutines.
type chunkedSum struct {
	n, dim, workers int
	f               []float64   // per chunk
	g               [][]float64 // per chunk
}

func newChunkedSum(n, dim, workers int) *chunkedSum {
	chunks := (n + chunkSize - 1) / chunkSize
	s := &chunkedSum{n: n, dim: dim, workers: min(workers, chunks), f: make([]float64, chunks), g: make([][]float64, chunks)}
	for i := range s.g {
		s.g[i] = make([]float64, dim)
	}
	return s
}

// run calls term(lo, hi, g) for every chunk [lo, hi) of the terms, which
// returns the chunk's sum and adds its gradient to g (zeroed before), and
// returns the total, with the total gradient in grad (when not nil).
func (s *chunkedSum) run(term func(lo, hi int, g []float64) float64, grad []float64) float64 {
	do := func(c int) {
		clear(s.g[c])
		s.f[c] = term(c*chunkSize, min((c+1)*chunkSize, s.n), s.g[c])
	}
	if s.workers <= 1 {
		for c := range s.f {
			do(c)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range s.workers {
			wg.Go(func() {
				for c := int(next.Add(1) - 1); c < len(s.f); c = int(next.Add(1) - 1) {
					do(c)
				}
			})
		}
		wg.Wait()
	}
	var total float64
	clear(grad)
	for c, f := range s.f {
		total += f
		for i := range grad {
			grad[i] += s.g[c][i]
		}
	}
	return total
}
