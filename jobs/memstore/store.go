package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var (
	_ jobs.StateStore  = (*Store)(nil)
	_ jobs.RunRecorder = (*Store)(nil)
	_ jobs.SlotStore   = (*Store)(nil)
)

// Store is an in-memory state store. It is safe for concurrent use; the
// zero value is not ready, use New.
type Store struct {
	mu sync.Mutex
	// sets is each rule set's committed state. A published *ruleSet is
	// never changed: Commit replaces it, so readers keep what they opened.
	sets map[string]*ruleSet
	// applying holds the rule sets with an open apply: their locks.
	applying map[string]bool

	runs []kernel.Run // run id n is runs[n-1]
	// sourceRows holds each committed run's rows per facts source, from
	// its report's quality section, by run id (the SQL stores read them
	// from the stored report).
	sourceRows map[int64]map[string]int64
	// reports holds the plan report each finished run stored, as JSON,
	// by run id (runs.detail in the SQL stores; report.go).
	reports map[int64][]byte
	// hadHistory names the rule sets with any history: one whose
	// customers all left is not on its first run.
	hadHistory map[string]bool
	history    []kernel.HistoryEntry    // entry id n is history[n-1]
	byCustomer map[string][]int         // history indexes of each customer
	actions    []kernel.QueuedAction    // action id n is actions[n-1]
	idempotent map[string]bool          // idempotency keys of the queue
	attempts   map[int64][]jobs.Attempt // delivery attempts by action id (queue.go)
	slots      map[slotKey]*slot
}

// ruleSet is one rule set's assignments, cooldown record and marks.
type ruleSet struct {
	assignments map[assignKey]assignment
	lastQueued  map[actionKey]time.Time
	// marks holds each customer's engine.Mark from the last apply that
	// evaluated it; a customer without one has none.
	marks map[string]engine.Mark
}

type assignKey struct{ segmentation, customer string }

type actionKey struct{ action, customer string }

// assignment is where a customer is in one segmentation.
type assignment struct {
	segment      string
	since        time.Time
	pendingSince time.Time
	reason       string
	runID        int64
}

// New returns an empty store, already at the latest schema.
func New() *Store {
	return &Store{
		sets:       map[string]*ruleSet{},
		applying:   map[string]bool{},
		byCustomer: map[string][]int{},
		idempotent: map[string]bool{},
		slots:      map[slotKey]*slot{},
	}
}

// schemaVersion is the store's one, always current, schema version.
const schemaVersion = 1

func migrationStatus() *kernel.MigrationStatus {
	return &kernel.MigrationStatus{Current: schemaVersion, Latest: schemaVersion}
}

// Migrate does nothing: a store in memory is born at the latest schema.
// It returns the status, as the SQL stores do.
func (s *Store) Migrate(ctx context.Context, dryRun bool) (*kernel.MigrationStatus, error) {
	return migrationStatus(), ctx.Err()
}

// MigrationStatus reports the schema as current.
func (s *Store) MigrationStatus(ctx context.Context) (*kernel.MigrationStatus, error) {
	return migrationStatus(), ctx.Err()
}

// Ping always answers, unless ctx is done.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close does nothing; the state stays readable until the store is
// garbage.
func (s *Store) Close() error { return nil }

// Schema names where the state is, for messages.
func (s *Store) Schema() string { return "memory" }

// Redact returns text unchanged: the store has no secrets.
func (s *Store) Redact(text string) string { return text }

// stamp is how the store keeps a time: UTC, to the microsecond, as the
// SQL stores do.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// stampPtr is stamp, or nil for the zero time (SQL NULL).
func stampPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	st := stamp(t)
	return &st
}

// stringPtr is s, or nil for "" (SQL NULL).
func stringPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
