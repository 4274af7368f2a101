package rules

import (
	"os"
	"testing"
	"time"
)

// BenchmarkWakeComparison measures one instrumented comparison,
// days_since(t) > 365 as in the retail example's lifecycle, against the
// helper call it replaces.
func BenchmarkWakeComparison(b *testing.B) {
	src, err := os.ReadFile("../examples/retail/retail.yaml")
	if err != nil {
		b.Fatal(err)
	}
	rs, err := Compile("retail.yaml", src, Options{})
	if err != nil {
		b.Fatal(err)
	}
	s := rs.Fast.Slotted.Slots
	env := s.New()
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	env[s.Index(AsOfVar)] = asOf
	r := s.WakeRecorder(env)
	r.Reset(asOf)
	var u any = asOf.Add(-100 * 24 * time.Hour)
	var c any = 365
	a := &s.wake.atoms[0]
	b.Run("wake", func(b *testing.B) {
		for b.Loop() {
			r.direct(a, u, c)
		}
	})
	var helper func(any, any) any
	for _, f := range s.funcs {
		if f.name == "days_since" && f.arity == 2 {
			helper = typed2(f.fn)
		}
	}
	if helper == nil {
		b.Fatal("no days_since helper")
	}
	b.Run("helper", func(b *testing.B) {
		for b.Loop() {
			_ = helper(u, env[0]).(int) > 365
		}
	})
}
