// Package engine evaluates a compiled rule set for one customer at a time:
// facts, previous state and the run's as-of time in; new segments, the
// reason for each, actions to queue and per-customer rule errors out.
//
// The engine is pure and deterministic. It reads no clock, database or
// file: the same rule set, facts, previous state and as-of time always give
// the same result. An [Engine] is safe for concurrent use; each goroutine
// borrows its own evaluation scratch space from a pool.
//
// The package also owns the plan model: [Plan] aggregates results into
// the moves and actions a run would make.
package engine
