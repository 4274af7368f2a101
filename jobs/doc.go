// Package jobs runs a rule set against a store of customer facts and
// state: it streams customers, evaluates them on every core with the
// engine, aggregates a plan, and — for an apply — stages the changes and
// commits them in one transaction, guarded against runaway changes.
//
// A plan (dry run) is the apply path stopped before anything is written.
// Stores plug in through the small interfaces this package declares
// (Store, Snapshot, ApplyTx); jobs/postgres implements them.
package jobs
