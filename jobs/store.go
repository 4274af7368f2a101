package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// ErrLocked is returned by StateStore.BeginApply when another apply of the
// same rule set holds its lock.
var ErrLocked = errors.New("another apply of this rule set is running")

// FactsSource is where a rule set's facts come from: a SQL query on the
// state database or on another one, or a file export. It knows nothing
// of state.
type FactsSource interface {
	// OpenFacts opens one consistent pass over every customer's facts, in
	// the shape of rs's facts schema.
	OpenFacts(ctx context.Context, rs *rules.RuleSet) (FactsReader, error)
}

// FactsReader streams customers with their key and facts; their State is
// left empty. It must be closed.
type FactsReader interface {
	// Count returns the number of customers, or -1 if it is unknown; it
	// drives progress reporting.
	Count(ctx context.Context) (int64, error)
	// Stream calls fn with batches of customers until all are read. A
	// batch and its customers are owned by fn once passed.
	Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error
	Close() error
}

// StateStore keeps what tierflow knows of each customer: assignments,
// history, the action queue and the run record. It takes the apply
// transaction and the rule set's lock.
type StateStore interface {
	// OpenState opens a consistent, read-only view of rs's state.
	OpenState(ctx context.Context, rs *rules.RuleSet) (StateReader, error)
	// BeginApply starts the write transaction of an apply and takes the
	// rule set's lock, which is released when the transaction ends or its
	// process dies. It returns ErrLocked when the lock is taken.
	BeginApply(ctx context.Context, rs *rules.RuleSet, run RunInfo) (ApplyTx, error)
}

// StateReader looks up customers' previous state. It must be closed.
type StateReader interface {
	// Initial reports whether the rule set has no state yet: its first run.
	Initial() bool
	// Load sets the State of every customer of batch from the store,
	// matching on Key; a customer the store does not know gets an empty
	// state (one unassigned entry per segmentation). Memory and work are
	// proportional to the batch, not to the customer base.
	Load(ctx context.Context, batch []engine.Customer) error
	Close() error
}

// Ordered is implemented by facts readers and snapshots whose Stream
// yields customers in ascending order of their key's bytes (Go's string
// order; PostgreSQL's "C" collation; SQLite's BINARY). A reader that
// returns false, or does not implement it, is sorted by tierflow on disk
// before use. Customers with equal keys (duplicates) come one after the
// other, in the order the source returned them.
type Ordered interface {
	Ordered() bool
}

// StateKeys is implemented by state readers (and snapshots) that can list
// every customer the state knows for the rule set, so that a run can tell
// which customers the facts source no longer returns (on_missing).
type StateKeys interface {
	// Keys calls fn with batches of at most batchSize keys of customers
	// with any assignment in the rule set's state, each key once, in
	// ascending order of the key's bytes, from the same consistent view
	// as the rest of the reader.
	Keys(ctx context.Context, batchSize int, fn func([]string) error) error
	// Load sets the State of every customer of batch, as StateReader.Load.
	Load(ctx context.Context, batch []engine.Customer) error
}

// Joiner is implemented by state stores that can read a facts source of
// their own database joined to state in one query: the fast path when
// facts and state live together. Join returns ok false when src is not
// such a source, and the run then joins on the key in tierflow.
type Joiner interface {
	Join(ctx context.Context, rs *rules.RuleSet, src FactsSource) (snap Snapshot, ok bool, err error)
}

// ShardJoiner is implemented by Joiners that can narrow their one-query
// snapshot to the customers of a shard, in the database.
type ShardJoiner interface {
	JoinShard(ctx context.Context, rs *rules.RuleSet, src FactsSource, sh Shard) (snap Snapshot, ok bool, err error)
}

// Snapshot streams customers with their facts and previous state. It
// must be closed.
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
	// Shard is the part of a sharded run this run is (Options.Shard);
	// zero for an unsharded run.
	Shard Shard
}

// Evaluated is one customer's input and outcome.
type Evaluated struct {
	Customer *engine.Customer
	Result   *engine.Result
	// Sync maps a segmentation to the destinations that get every move in
	// it (Options.Sync); nil on a first run that queues no actions.
	Sync map[string][]string
	// Mark is what the store keeps of this evaluation: the customer's
	// State.Mark for the next run. A store writes it with the customer's
	// other state; a customer staged for its mark alone has a Mark unlike
	// its State.Mark and nothing else to write.
	Mark engine.Mark
}

// RunSummary is what a finished run records.
type RunSummary struct {
	Status   Status
	Finished time.Time
	// FinishedAt, when set, gives Finished when the store records a
	// successful run, after it has written the state in the same
	// transaction: so that the run's recorded duration includes its
	// writes, which take most of an apply's commit.
	FinishedAt func() time.Time
	Customers  int
	Changed    int
	Actions    int
	Errors     int
	// Detail is the plan, stored with the run for later reading.
	Detail *PlanReport
	Error  string
	// CheckTotals, for a shard's run, judges the whole run when this
	// shard is the last to commit: the store calls it in the commit's
	// transaction with the shards' totals, and records the parent run
	// as flagged, with the reasons, when it returns any.
	CheckTotals func(RunTotals) []string
}

// Finish returns the time to record as the run's end: FinishedAt's when
// it is set, else Finished.
func (s RunSummary) Finish() time.Time {
	if s.FinishedAt != nil {
		return s.FinishedAt()
	}
	return s.Finished
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
	StatusCancelled Status = "cancelled" // shutdown cancelled the run; nothing was written
	// StatusFlagged is a sharded run's parent whose every shard committed
	// but whose totals a guard limit refuses: the shards' writes stand.
	StatusFlagged Status = "flagged"
)

// PopulationReader is implemented by state stores that can say how many
// customers a rule set's last successful run evaluated, so that the guard
// can refuse a run whose facts source lost most of them (Guard.MaxShrinkShare).
type PopulationReader interface {
	// LastSucceeded returns the most recent succeeded run of the rule set
	// (by start time, then id); ok is false when it has none.
	LastSucceeded(ctx context.Context, ruleset string) (last PreviousRun, ok bool, err error)
}

// PreviousRun is the last successful run of a rule set, as the guard
// compares a run with it.
type PreviousRun struct {
	ID        int64 `json:"id"`        // the run's id in the run record
	Customers int64 `json:"customers"` // the customers it evaluated
	// SourceRows is the number of rows each facts source returned, by
	// source name, as the run's report recorded them (QualityReport);
	// nil for runs recorded before data-quality checks existed.
	SourceRows map[string]int64 `json:"source_rows,omitempty"`
	// RulesHash and AsOf are the run's: whether the marks it left
	// (engine.Mark) hold for a run of the same rules at a later as-of.
	RulesHash string    `json:"-"`
	AsOf      time.Time `json:"-"`
	// ChangeColumn and ChangedThrough are the source's change column and
	// its latest value the run saw (IncrementalReport); "" and zero when
	// it read none.
	ChangeColumn   string    `json:"-"`
	ChangedThrough time.Time `json:"-"`
	// Shard is the shard the run evaluated ("2/4", Shard.String); "" for
	// an unsharded run or a sharded run's parent, which cover everyone.
	Shard string `json:"shard,omitempty"`
	// StaleMarks is true when the run left customers unread whose marks
	// were made under other rules (IncrementalReport.StaleMarks): the
	// marks do not hold for the run that follows.
	StaleMarks bool `json:"-"`
}

// RunRecorder records runs that write no state (blocked, failed, skipped)
// outside the apply transaction. State stores implement it alongside
// StateStore.
type RunRecorder interface {
	StartRun(ctx context.Context, run RunInfo, kind string) (int64, error)
	FinishRun(ctx context.Context, id int64, summary RunSummary) error
}
