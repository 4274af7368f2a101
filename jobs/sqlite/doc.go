// Package sqlite is tierflow's embedded store: facts and state in one
// local SQLite file, through a pure-Go driver (modernc.org/sqlite, no
// cgo), for use without a database server. It implements jobs.StateStore
// (with jobs.Joiner, jobs.RunRecorder and jobs.SlotStore) with the same
// behaviours as jobs/postgres, the production store and the reference:
// the conformance suites in jobs/storetest run against both.
//
// Store.Source is a facts source on the file itself (a SQL query, or a
// table or view name), read joined to the state in one query;
// OpenDatabase opens another SQLite file read-only for facts. tierflow's
// tables (runs, customer_state and state_layout, history, actions, slots;
// views assignments and action_last) are created by embedded, versioned
// migrations in the SQLite dialect; times are stored as text, RFC 3339 in
// UTC with six fractional digits (2024-07-01T00:00:00.000000Z), which
// sorts as time does; JSON is text, and so are the arrays of a state row
// (staterow.go).
//
// Concurrency. The file is in WAL mode: readers never wait for the
// writer. A plan reads in one read transaction on a connection with
// PRAGMA query_only, so it sees one consistent state and cannot write.
// An apply takes its rule set's lock (an OS file lock next to the
// database, released when the apply ends or its process dies), stages
// its changes in a temporary table, which locks nothing, and merges them
// in one BEGIN IMMEDIATE transaction at commit: SQLite's journal makes
// that all or nothing, even if the process is killed. A second apply of
// the same rule set gets jobs.ErrLocked at once (after a second look of
// at most about 130 ms: see tryLock); applies of different rule sets run
// side by side and take turns only to commit, waiting up to
// Config.BusyTimeout for the write lock.
package sqlite
