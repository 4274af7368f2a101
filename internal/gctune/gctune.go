// Package gctune sets Go's garbage collector for tierflow's runs.
//
// A run streams customers through a small live heap while it allocates
// well over a gigabyte per million customers, so Go's default (GOGC=100:
// collect each time the heap doubles) collects hundreds of times per run.
// Collecting when the heap has grown five-fold instead took a full apply
// of a million customers on PostgreSQL from 11.7 to 6.6 CPU seconds
// (docs/benchmarks.md, "The garbage collector"), and a soft memory limit
// keeps the heap, and so the process's resident memory, bounded where
// the live heap is larger than usual.
package gctune

import (
	"runtime/debug"
	"sync/atomic"
)

const (
	// Percent is the GOGC tierflow runs with: collect once the heap has
	// grown by 400% of what the last collection left live.
	Percent = 400
	// Limit is the soft limit on the Go runtime's memory (GOMEMLIMIT):
	// the collector runs sooner as it nears it. Memory held outside Go's
	// heap, such as SQLite's page caches, is taken off it (Outside).
	Limit = 64 << 20
)

// tuned is whether Set set the collector, so that Outside may lower the
// limit.
var tuned atomic.Bool

// Set sets Percent and Limit, unless GOGC or GOMEMLIMIT is set in the
// environment getenv reads: the runtime then follows them as Go
// documents, and Set leaves it alone. It reports whether it set them.
func Set(getenv func(string) string) bool {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return false
	}
	debug.SetGCPercent(Percent)
	debug.SetMemoryLimit(Limit)
	tuned.Store(true)
	return true
}

// Outside lowers the memory limit Set set by n bytes that the process
// holds outside the Go runtime's memory, where the limit cannot see
// them: an embedded SQLite store's page caches (with the whole 64 MiB, a
// first SQLite apply of 100,000 customers peaked at 107 MB of RSS; with
// 48 MiB at 90 MB). It does nothing unless Set did.
func Outside(n int64) {
	if tuned.Load() {
		debug.SetMemoryLimit(max(Limit-n, Limit/4))
	}
}
