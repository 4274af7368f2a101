package gctune

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestSet(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	none := func(string) string { return "" }
	if !Set(none) {
		t.Fatal("Set with neither GOGC nor GOMEMLIMIT set did nothing")
	}
	if got := debug.SetGCPercent(Percent); got != Percent {
		t.Errorf("GOGC is %d, want %d", got, Percent)
	}
	if got := debug.SetMemoryLimit(-1); got != Limit {
		t.Errorf("the memory limit is %d, want %d", got, Limit)
	}
	Outside(16 << 20)
	if got := debug.SetMemoryLimit(-1); got != Limit-16<<20 {
		t.Errorf("with 16 MiB outside, the memory limit is %d, want %d", got, Limit-16<<20)
	}
	tuned.Store(false)

	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
		if Set(func(k string) string {
			if k == env {
				return "off"
			}
			return ""
		}) {
			t.Errorf("Set with %s set changed the collector", env)
		}
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("with %s set, GOGC is %d, want it left at 100", env, got)
		}
		Outside(16 << 20)
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			t.Errorf("with %s set, the memory limit is %d, want it left alone", env, got)
		}
	}
}
