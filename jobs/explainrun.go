package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// CustomerRecordReader is implemented by state stores that can read
// everything they keep of one customer of a rule set, from one
// consistent view: what explaining a recorded run needs (ExplainRun).
type CustomerRecordReader interface {
	// CustomerRecord returns the record of customer key in rule set
	// ruleset; a customer the store does not know has an empty record.
	CustomerRecord(ctx context.Context, ruleset, key string) (*CustomerRecord, error)
}

// CustomerRecord is what a state store keeps of one customer in one rule
// set: where they are now, every move, and every action queued.
type CustomerRecord struct {
	// Assignments are the customer's current assignments, by
	// segmentation name.
	Assignments []RecordedAssignment
	// Moves is the customer's history, oldest first (by id).
	Moves []RecordedMove
	// Actions are the customer's rows of the action queue, by id, segment
	// syncs (sync.SEGMENTATION) included.
	Actions []RecordedAction
}

// RecordedAssignment is one current assignment and the run that last
// wrote it (a move, or a change of its pending-since time).
type RecordedAssignment struct {
	Segmentation string
	engine.Assignment
	RunID int64
}

// RecordedMove is one row of the history: a move run RunID made, as of
// its as-of. From and To are "" for no segment (a first assignment, a
// leave).
type RecordedMove struct {
	ID              int64
	Segmentation    string
	From, To        string
	Matched, Reason string
	AsOf            time.Time
	RunID           int64
}

// RecordedAction is one row of the action queue.
type RecordedAction struct {
	ID       int64
	Action   string
	Status   string
	Priority int
	// Created is the as-of of the run that queued it; Due when it is due.
	Created, Due time.Time
	Payload      json.RawMessage
	RunID        int64
	// Outcome and OutcomeAt are how and when the follow-up ended, as
	// reported; "" and zero when it has not.
	Outcome   string
	OutcomeAt time.Time
	Note      string
}

// ReadCustomerRecord reads the record of customer key in rule set
// ruleset from state, which must be a CustomerRecordReader.
func ReadCustomerRecord(ctx context.Context, state StateStore, ruleset, key string) (*CustomerRecord, error) {
	r, ok := state.(CustomerRecordReader)
	if !ok {
		return nil, fmt.Errorf("this state store (%T) cannot read a customer's record, which explaining a run needs", state)
	}
	rec, err := r.CustomerRecord(ctx, ruleset, key)
	if err != nil {
		return nil, fmt.Errorf("read the record of customer %s in %s: %w", key, ruleset, err)
	}
	return rec, nil
}

// RunRef is a recorded run, as ExplainRun needs it.
type RunRef struct {
	ID        int64
	RuleSet   string
	RulesHash string
	AsOf      time.Time
	Status    Status
	// Initial is true for the rule set's first run (as its stored report
	// says), and Actions is how many actions the run queued: a first run
	// that queued none ran without initial_actions.
	Initial bool
	Actions int64
}

// Verdict says how re-evaluating a run compares with its record.
type Verdict string

// Verdicts of ExplainRun.
const (
	// VerdictAgrees: today's evaluation at the run's as-of, from the
	// state before it, gives the moves and actions the run recorded.
	VerdictAgrees Verdict = "agrees"
	// VerdictDiffers: it does not: the facts (or the rules) differ from
	// those of the run, which tierflow does not keep.
	VerdictDiffers Verdict = "differs"
)

// RunExplanation explains one customer's part in a recorded run: what
// the run recorded (Recorded) and, apart from it, today's evaluation of
// the customer at the run's as-of from the state before the run
// (Evaluated and Trace), with how the two compare.
type RunExplanation struct {
	Run      RunRef
	Customer string
	// Recorded is what the run wrote for the customer: its moves (the
	// history) and the actions it queued. Both are empty for a customer
	// the run did not touch.
	Recorded RunOutcome
	// Evaluated is the same, as today's evaluation gives it; Trace is
	// that evaluation, whose previous state is the state before the run.
	Evaluated RunOutcome
	Trace     *engine.Trace
	Verdict   Verdict
	// RulesChanged is true when the rule set's hash differs from the
	// run's: the evaluation uses today's rules (and params), as tierflow
	// keeps only the hash of the run's.
	RulesChanged bool
	RulesHash    string
	// Notes say where the state before the run could not be rebuilt
	// exactly from the record, and what was taken instead, and that a
	// first run's actions are not compared.
	Notes []string
}

// RunOutcome is what one run did for one customer, in the terms both a
// record and an evaluation have: moves in segmentation order, actions by
// name.
type RunOutcome struct {
	Moves   []RunMove
	Actions []RunAction
}

// Empty reports whether the outcome holds neither a move nor an action.
func (o *RunOutcome) Empty() bool { return len(o.Moves) == 0 && len(o.Actions) == 0 }

// RunMove is a move in one segmentation; "" is no segment.
type RunMove struct {
	Segmentation string
	From, To     string
	Reason       string
}

// RunAction is one action for the customer. Status is the queue's
// status for a recorded one (pending, done, held_out...), and queued,
// held_out or suppressed for an evaluated one; ID is the queue's id, 0
// for an evaluated one.
type RunAction struct {
	ID     int64
	Action string
	Status string
	Due    time.Time
}

// Disposition is what the run decided of the action: held_out,
// suppressed, or queued for every other status.
func (a RunAction) Disposition() string {
	switch a.Status {
	case ActionHeldOut, ActionSuppressed:
		return a.Status
	}
	return "queued"
}

// errNotSucceeded says why a run that wrote nothing cannot be explained.
func errNotSucceeded(run RunRef) error {
	return fmt.Errorf("run %d of %s was %s: it wrote no move and queued no action to explain (tierflow runs says why; explain a succeeded apply instead)",
		run.ID, run.RuleSet, run.Status)
}

// ExplainRun explains customer key's part in run, a recorded apply of
// rs, from rec, the customer's record (ReadCustomerRecord): it rebuilds
// the customer's state before the run from the record (segments and
// since dates from the history, pending downgrade graces from the
// current assignments where they tell, last action times and follow-ups
// from the queue rows of earlier runs), evaluates today's facts from
// facts at the run's as-of, and compares the outcome with what the run
// recorded. tierflow keeps neither a run's facts nor its params, only
// its rules hash: a different outcome means they differ from today's.
func ExplainRun(ctx context.Context, rec *CustomerRecord, facts FactsSource, rs *rules.RuleSet, run RunRef, key string) (*RunExplanation, error) {
	if run.RuleSet != rs.Name {
		return nil, fmt.Errorf("run %d is of rule set %s, not %s", run.ID, run.RuleSet, rs.Name)
	}
	if run.Status != StatusSucceeded {
		return nil, errNotSucceeded(run)
	}
	c, err := findFactsAt(ctx, facts, rs, key, run.AsOf)
	if err != nil {
		return nil, fmt.Errorf("run %d is re-evaluated with today's facts: %w", run.ID, err)
	}
	state, notes := stateBefore(rs, rec, run)
	c.State = state
	x := &RunExplanation{Run: run, Customer: key, RulesHash: rs.Hash, RulesChanged: run.RulesHash != rs.Hash, Notes: notes,
		Recorded: recordedOutcome(rs, rec, run.ID)}
	x.Trace = engine.New(rs).Explain(run.AsOf, c)
	noActions := run.Initial && run.Actions == 0
	if noActions {
		x.Notes = append(x.Notes, fmt.Sprintf("run %d was the rule set's first run, which queues no actions (initial_actions is off): the actions the evaluation fires are not compared", run.ID))
	}
	x.Evaluated = evaluatedOutcome(rs, x.Trace.Result, noActions)
	x.Verdict = VerdictDiffers
	if sameOutcome(&x.Recorded, &x.Evaluated) {
		x.Verdict = VerdictAgrees
	}
	return x, nil
}
