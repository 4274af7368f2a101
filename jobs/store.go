package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// ErrLocked is returned by Store.BeginApply when another apply of the same
// rule set holds its lock.
var ErrLocked = errors.New("another apply of this rule set is running")

// Store is where facts are read and state is kept.
type Store interface {
	// Snapshot opens a consistent, read-only view of every customer's
	// facts and previous state for rs.
	Snapshot(ctx context.Context, rs *rules.RuleSet) (Snapshot, error)
	// BeginApply starts the write transaction of an apply and takes the
	// rule set's lock, which is released when the transaction ends or its
	// connection dies. It returns ErrLocked when the lock is taken.
	BeginApply(ctx context.Context, rs *rules.RuleSet, run RunInfo) (ApplyTx, error)
}

// Snapshot streams customers. It must be closed.
type Snapshot interface {
	// Initial reports whether the rule set has no state yet: its first run.
	Initial() bool
	// Count returns the number of customers the snapshot holds, or -1 if
	// it is unknown; it drives progress reporting.
	Count(ctx context.Context) (int64, error)
	// Stream calls fn with batches of customers until all are read. A
	// batch and its customers are owned by fn once passed.
	Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error
	Close() error
}

// ApplyTx is an apply's write transaction. Nothing it writes is visible
// until Commit; Rollback (or a dead process) leaves the old state intact.
type ApplyTx interface {
	// Stage writes evaluated customers whose state changes or who have
	// actions to queue. It may be called many times, from one goroutine.
	Stage(ctx context.Context, batch []Evaluated) error
	// Commit applies the staged changes, records the run and commits.
	Commit(ctx context.Context, summary RunSummary) error
	// Rollback abandons the transaction; it is safe after Commit.
	Rollback() error
}

// RunInfo identifies a run for the store's run record.
type RunInfo struct {
	ID        int64
	RuleSet   string
	RulesHash string
	AsOf      time.Time
	// Slot is the scheduled time that triggered the run; zero for a run
	// started by hand.
	Slot    time.Time
	Started time.Time
}

// Evaluated is one customer's input and outcome.
type Evaluated struct {
	Customer *engine.Customer
	Result   *engine.Result
}

// RunSummary is what a finished run records.
type RunSummary struct {
	Status    Status
	Finished  time.Time
	Customers int
	Changed   int
	Actions   int
	Errors    int
	// Detail is the plan, stored with the run for later reading.
	Detail *PlanReport
	Error  string
}

// Status is a run's outcome.
type Status string

// Run statuses.
const (
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusBlocked   Status = "blocked"   // a guard refused to write
	StatusFailed    Status = "failed"    // an error, or too many rule errors
	StatusSkipped   Status = "skipped"   // another run held the lock
	StatusAbandoned Status = "abandoned" // the process died mid-run
)

// RunRecorder records runs that write no state (blocked, failed, skipped)
// outside the apply transaction. Stores implement it alongside Store.
type RunRecorder interface {
	StartRun(ctx context.Context, run RunInfo, kind string) (int64, error)
	FinishRun(ctx context.Context, id int64, summary RunSummary) error
}
