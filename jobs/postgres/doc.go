// Package postgres is tierflow's PostgreSQL state store: it keeps each
// customer's state (one row per rule set, customer_state, its arrays laid
// out by state_layout: see jobs/kernel's staterow.go), history, the
// action queue and run records in its own schema (default "tierflow")
// and implements jobs.StateStore (with jobs.Joiner, jobs.RunRecorder and
// jobs.SlotStore) with streaming reads, COPY into a staging table and
// set-based writes in one transaction.
// Store.Source is a facts source on the same database, read joined to the
// state in one query; OpenDatabase opens another database that facts are
// read from. What is not PostgreSQL's own is in jobs/kernel.
//
// Schema changes are embedded, versioned migrations applied by Migrate.
package postgres
