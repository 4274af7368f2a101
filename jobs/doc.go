// Package jobs runs a rule set against a store of customer facts and
// state: it streams customers, evaluates them on every core with the
// engine, aggregates a plan, and — for an apply — stages the changes and
// commits them in one transaction, guarded against runaway changes.
//
// A plan (dry run) is the apply path stopped before anything is written.
// Two roles plug in through the small interfaces this package declares:
// a FactsSource (a SQL query on any database, a file export) streams each
// customer's facts, and a StateStore (jobs/postgres, jobs/sqlite,
// jobs/memstore) keeps assignments, history, the action queue and runs,
// and takes the apply transaction and the rule set's lock. A run joins
// the two on the customer key, batch by batch (OpenSnapshot), or in one
// query when the store's own database holds the facts (Joiner).
package jobs
