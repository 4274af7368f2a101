// Package kernel is what every tierflow state store shares, so that a
// backend differs from another only in its SQL text and its bulk-write
// path: the neutral record types the CLI reads (history entries, queued
// actions, runs, migrations, source columns), and the dialect-independent
// SQL logic (facts sources on any database, source checks and schemas,
// the snapshot query that joins facts to state, state and follow-up
// history lookups by key, the rows an apply stages, the action queue and
// its outcomes, idempotency keys, migrations read from an fs.FS, secret
// redaction).
//
// A store package (jobs/postgres, jobs/sqlite) imports jobs and this
// package and supplies a Dialect; it never imports another store. The way
// goose keeps a dialect down to its query strings, and River keeps driver
// types in riverdriver, is the model.
package kernel
