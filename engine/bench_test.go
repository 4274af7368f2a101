package engine_test

import (
	"testing"

	"github.com/tierflow/tierflow/engine"
)

// benchPoolSize is a power of two, so i&(benchPoolSize-1) cycles the pool.
const benchPoolSize = 4096

// BenchmarkEvaluateRetail measures one customer's evaluation of the
// retail example with EvaluateInto and a reused Result, as a run's loop
// does. The target is under a microsecond per customer per core.
func BenchmarkEvaluateRetail(b *testing.B) {
	rs := loadRetail(b)
	e := engine.New(rs)
	pool := retailPool(rs, benchPoolSize, 1)
	var res engine.Result
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.EvaluateInto(retailAsOf, pool[i&(benchPoolSize-1)], &res)
	}
}

// BenchmarkEvaluateRetailParallel is BenchmarkEvaluateRetail on every
// core at once, one reused Result per goroutine, sharing one Engine.
func BenchmarkEvaluateRetailParallel(b *testing.B) {
	rs := loadRetail(b)
	e := engine.New(rs)
	pool := retailPool(rs, benchPoolSize, 1)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var res engine.Result
		for i := 0; pb.Next(); i++ {
			e.EvaluateInto(retailAsOf, pool[i&(benchPoolSize-1)], &res)
		}
	})
}

// BenchmarkNewRetail measures preparing an engine for the retail
// example, which a run does once per rule set. It compiles nothing: the
// fast path is built by rules.Compile.
func BenchmarkNewRetail(b *testing.B) {
	rs := loadRetail(b)
	b.ReportAllocs()
	for b.Loop() {
		engine.New(rs)
	}
}
