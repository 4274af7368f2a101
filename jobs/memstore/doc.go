// Package memstore is a state store that lives in memory: assignments,
// history, the action queue, the run record and scheduled slots, kept in
// maps behind one mutex. It is for fast unit tests of jobs.Plan,
// jobs.Apply and the scheduler, and for trials of a rule set where there
// is no database; nothing survives the process.
//
// It behaves as the SQL stores (jobs/postgres, jobs/sqlite) do, and
// passes the same state-level conformance suite (storetest.RunState): an
// apply's changes are invisible until Commit and gone after Rollback; a
// commit is atomic; one apply per rule set holds its lock, and another
// gets jobs.ErrLocked; a StateReader sees the state as it was when it was
// opened, whatever commits after. Each commit copies the rule set's
// assignment and cooldown maps, so that open readers keep the old ones:
// its cost grows with the customer base, which is fine for the sizes
// tests and trials use. A reader copies what the follow-up history needs
// of the rule set's queue when it opens, for the same reason.
//
// Besides jobs.StateStore, jobs.RunRecorder, jobs.SlotStore, jobs.Queue
// and jobs.OutcomeStore (its readers are jobs.FollowUpLoaders) it has
// the queries (History, Actions, Runs) and housekeeping (Migrate,
// MigrationStatus, Ping, Close, Schema, Redact) the command needs of a
// state store, so that the CLI can run on it.
//
// It imports jobs and the kernel for their record types and the rows an
// apply stages (kernel.Changes), as the SQL stores do, and no database.
package memstore
