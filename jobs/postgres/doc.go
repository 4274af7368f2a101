// Package postgres is tierflow's PostgreSQL store: it reads customer facts
// from a configured SQL source, keeps assignments, history, the action
// queue and run records in its own schema (default "tierflow"), and
// implements the jobs.Store interfaces with streaming reads, COPY into a
// staging table and set-based writes in one transaction.
//
// Schema changes are embedded, versioned migrations applied by Migrate.
package postgres
