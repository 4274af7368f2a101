package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// Statuses of actions that fired but were not queued (engine.Withheld):
// the queue keeps them as the record of the decision, and no worker or
// consumer ever claims them.
const (
	ActionHeldOut    = "held_out"   // the customer is in the action's holdout group
	ActionSuppressed = "suppressed" // a contact limit was reached
)

// OutcomeReport is how a follow-up ended, as a consumer, a destination's
// callback or a person reports it (tierflow actions done|fail, POST
// /v1/actions/ID/outcome on serve, or SQL as docs/queue.md shows).
type OutcomeReport struct {
	ID int64
	// Status is ActionDone or ActionFailed.
	Status string
	// Outcome is one of the outcomes the action declares (rules.Action.
	// Outcomes), such as "reached"; it is required for done when the
	// action declares any, and must be empty for failed.
	Outcome string
	// Note is free text kept with the outcome: what happened, or why it
	// failed.
	Note string
	// At is when the follow-up ended; coverage windows are measured
	// against it.
	At time.Time
}

// ActionRef is what RecordOutcome needs to know of a queued action.
type ActionRef struct {
	ID       int64
	RuleSet  string
	Action   string
	Customer string
	Status   string
}

// OutcomeStore is implemented by state stores that record outcomes.
type OutcomeStore interface {
	// ActionRef returns the action with the id, or ErrNoAction.
	ActionRef(ctx context.Context, id int64) (ActionRef, error)
	// RecordOutcome writes r onto its action (status, outcome, note,
	// outcome time, finished_at) if the action's status is pending,
	// claimed, done or failed, in one statement; it returns
	// ErrNotFinishable otherwise (held out, suppressed, dead or cancelled,
	// perhaps meanwhile) and ErrNoAction when there is no such action.
	RecordOutcome(ctx context.Context, r OutcomeReport) error
}

// Errors of RecordOutcome.
var (
	ErrNoAction      = errors.New("no such action")
	ErrNotFinishable = errors.New("the action cannot take an outcome")
	ErrBadOutcome    = errors.New("invalid outcome")
)

// RecordOutcome checks r against the rule set of its action (found by
// ruleSet, which returns nil for a rule set that is not loaded) and
// records it. The returned error wraps ErrNoAction, ErrBadOutcome or
// ErrNotFinishable when it is the caller's mistake, and says how to fix
// it.
func RecordOutcome(ctx context.Context, s OutcomeStore, ruleSet func(name string) *rules.RuleSet, r OutcomeReport) (ActionRef, error) {
	ref, err := s.ActionRef(ctx, r.ID)
	if err != nil {
		return ref, err
	}
	if err := CheckOutcome(ref, ruleSet(ref.RuleSet), r); err != nil {
		return ref, err
	}
	if err := s.RecordOutcome(ctx, r); err != nil {
		return ref, err
	}
	ref.Status = r.Status
	return ref, nil
}

// CheckOutcome reports whether r is a valid outcome of the action ref,
// of rule set rs (nil when it is not loaded).
func CheckOutcome(ref ActionRef, rs *rules.RuleSet, r OutcomeReport) error {
	switch ref.Status {
	case ActionPending, ActionClaimed, ActionDone, ActionFailed:
	default:
		return fmt.Errorf("%w: action %d is %s", ErrNotFinishable, ref.ID, ref.Status)
	}
	if r.At.IsZero() {
		return fmt.Errorf("%w: no time given for action %d", ErrBadOutcome, ref.ID)
	}
	switch r.Status {
	case ActionFailed:
		if r.Outcome != "" {
			return fmt.Errorf("%w: a failed follow-up has no outcome (got %q); report it as done with the outcome, or as failed without one", ErrBadOutcome, r.Outcome)
		}
		return nil
	case ActionDone:
	default:
		return fmt.Errorf("%w: status %q; use %q or %q", ErrBadOutcome, r.Status, ActionDone, ActionFailed)
	}
	if rs == nil {
		return fmt.Errorf("%w: action %d belongs to rule set %q, which is not loaded; run in the project that defines it", ErrBadOutcome, ref.ID, ref.RuleSet)
	}
	a, _ := rs.Action(ref.Action)
	if a == nil {
		if r.Outcome == "" {
			return nil
		}
		return fmt.Errorf("%w: action %d is %s, which rule set %s does not define (a segment sync or a removed action): it takes no outcome", ErrBadOutcome, ref.ID, ref.Action, rs.Name)
	}
	switch {
	case len(a.Outcomes) == 0 && r.Outcome != "":
		return fmt.Errorf("%w: action %s of rule set %s declares no outcomes; add outcomes: [%s] to it in %s, or report done without one", ErrBadOutcome, a.Name, rs.Name, r.Outcome, rs.File)
	case len(a.Outcomes) > 0 && r.Outcome == "":
		return fmt.Errorf("%w: action %s needs an outcome, one of %s", ErrBadOutcome, a.Name, strings.Join(a.Outcomes, ", "))
	case r.Outcome != "" && !a.HasOutcome(r.Outcome):
		return fmt.Errorf("%w: %q is not an outcome of action %s; it declares %s", ErrBadOutcome, r.Outcome, a.Name, strings.Join(a.Outcomes, ", "))
	}
	return nil
}
