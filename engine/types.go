package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/expr-lang/expr/file"
)

// Customer is one customer's input to an evaluation.
type Customer struct {
	// Key identifies the customer; it appears in rule errors.
	Key string
	// Facts holds the values of the rule set's facts in schema order
	// (rules.Schema.Fields), typed as rules.Field.Coerce returns them.
	// Missing trailing values are null.
	Facts []any
	// State is what tierflow remembered from the previous run.
	State State
	// FactErrors lists the facts whose value the reader could not use,
	// such as a number that is NaN; their Facts entries are null. A
	// customer with fact errors is not evaluated: each error becomes a
	// RuleError naming the fact, every segmentation keeps its previous
	// segment and no action is queued.
	FactErrors []FactError
	// Absent marks a customer the state knows but the facts source no
	// longer returns, under a rule set with on_missing: exit. Its Facts are
	// all null (Facts and FactErrors are ignored); it is not evaluated
	// against any segment's condition but leaves every segmentation where
	// it had a segment (a Decision with an empty Segment, the old one as
	// Previous, and ReasonLeft), and only actions whose condition calls
	// left("SEGMENTATION") (rules.Action.CallsLeft) are evaluated for it,
	// with cooldowns as usual. Expressions see previous.X as before and
	// segment.X as "".
	Absent bool
	// FactsDigest is a digest of the customer's facts that the reader
	// computed where they are (a SQL store's snapshot); 0 when the run
	// computes one itself. The engine ignores it: it is what a run keeps
	// in the customer's mark (Mark.Digest) to tell whether the facts
	// changed.
	FactsDigest uint64
	// Settled is true when the reader's database ran the rules on the
	// customer and found it unchanged, and the run reads it all the same,
	// to check that decision against the engine's (a sample of them; see
	// jobs.IncrementalReport.Checked). The engine ignores it.
	Settled bool
}

// HasFactError reports whether the reader could not use c's value of
// fact (FactErrors).
func (c *Customer) HasFactError(fact string) bool {
	for _, fe := range c.FactErrors {
		if fe.Fact == fact {
			return true
		}
	}
	return false
}

// FactError is one fact whose value could not be used for a customer.
type FactError struct {
	// Fact is the fact's name in the schema.
	Fact string
	Err  error
}

// State is a customer's state before a run.
type State struct {
	// Segments holds the previous assignment per segmentation, indexed like
	// RuleSet.Segmentations. A nil slice or an empty Segment means the
	// customer had no segment there yet.
	Segments []Assignment
	// LastActions holds when each action was last queued for the
	// customer, indexed like RuleSet.Actions. Zero means never.
	LastActions []time.Time
	// Outcomes holds, for each action and outcome the customer's
	// follow-ups ended with, the last time they did: what coverage
	// targets read. Stores fill it only for rule sets with coverage
	// targets (rules.Segment.Coverage).
	Outcomes []ActionOutcome
	// Contacts lists the actions queued for the customer within the rule
	// set's longest contact-limit window before the as-of (held-out,
	// suppressed and cancelled ones are no contact), in any order: what
	// contact limits count. Stores fill it only for rule sets with
	// limits.
	Contacts []Contact
	// Mark is what the store kept of the customer's last evaluation by an
	// apply; the engine does not read it.
	Mark Mark
}

// Mark is what a store keeps of a customer's last evaluation, for
// incremental runs to tell which customers need evaluating: when the
// customer must next be evaluated if nothing but time passes, and a
// digest of the facts it was evaluated with.
type Mark struct {
	// Wake is Result.Wake as stored: zero for never, EveryRun for on
	// every run, else the time itself.
	Wake time.Time
	// Digest is the digest of the customer's facts
	// (internal/factdigest); 0 for none, which matches no facts.
	Digest uint64
}

// Equal reports whether m and o are the same mark: the same digest, and
// wake-up times at the same instant (in any location).
func (m Mark) Equal(o Mark) bool { return m.Digest == o.Digest && m.Wake.Equal(o.Wake) }

// EveryRun is the stored Wake of a customer who must be evaluated on
// every run: a time before any as-of, so that "wake <= as-of" holds on
// every run, and the same on every run, so that keeping it writes
// nothing new.
var EveryRun = time.Unix(0, 0).UTC()

// StoredWake is wake, the Result.Wake of an evaluation at asOf, as a
// store keeps it (Mark.Wake): a time not after asOf, which means every
// run, becomes EveryRun.
func StoredWake(wake, asOf time.Time) time.Time {
	if !wake.IsZero() && !wake.After(asOf) {
		return EveryRun
	}
	return wake
}

// ActionOutcome is the last time a customer's follow-up by one action
// ended with one outcome.
type ActionOutcome struct {
	// Action is the action's index in RuleSet.Actions.
	Action  int
	Outcome string
	At      time.Time
}

// Contact is one action queued for a customer by an earlier run.
type Contact struct {
	// Action is the action's index in RuleSet.Actions, or -1 for an
	// action the rules no longer define (it counts toward per-customer
	// limits but no channel's).
	Action int
	At     time.Time
}

func (s *State) segment(i int) Assignment {
	if i < len(s.Segments) {
		return s.Segments[i]
	}
	return Assignment{}
}

func (s *State) lastAction(i int) time.Time {
	if i < len(s.LastActions) {
		return s.LastActions[i]
	}
	return time.Time{}
}

// Assignment is a customer's segment in one segmentation.
type Assignment struct {
	Segment string
	// Since is when the customer entered Segment.
	Since time.Time
	// PendingSince, when set, is when the customer's conditions first
	// pointed to a lower segment while a downgrade grace period kept them
	// in Segment.
	PendingSince time.Time
}

// Reason says how a segment was decided.
type Reason uint8

// Reasons for a decision.
const (
	// ReasonMatched: the segment's condition was the first to hold.
	ReasonMatched Reason = iota + 1
	// ReasonFallback: no condition held; the fallback segment applies.
	ReasonFallback
	// ReasonMinStay: another segment matched, but the customer has not
	// been in the current one for its min_stay yet.
	ReasonMinStay
	// ReasonGrace: a lower segment matched, but the current segment's
	// downgrade_grace has not run out.
	ReasonGrace
	// ReasonError: a condition failed at runtime; the previous segment is
	// kept (or none, for a new customer).
	ReasonError
	// ReasonLeft: the customer is no longer in the facts source and the
	// rule set says on_missing: exit; it leaves the segmentation (the
	// Decision's Segment is empty).
	ReasonLeft
)

var reasonNames = [...]string{"", "matched", "fallback", "min_stay", "downgrade_grace", "error", "left"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", r)
}

// ParseReason is the reason named s (Reason.String; "" is the zero
// Reason), and whether there is one.
func ParseReason(s string) (Reason, bool) {
	for i, n := range reasonNames {
		if n == s {
			return Reason(i), true
		}
	}
	return 0, false
}

// Decision is the outcome of one segmentation for one customer.
type Decision struct {
	Assignment
	// Previous is the segment before the run, "" if none.
	Previous string
	Reason   Reason
	// Matched is the segment whose condition matched (or the fallback),
	// which differs from Segment when stickiness held the customer.
	Matched string
}

// Changed reports whether the customer moves to another segment.
func (d *Decision) Changed() bool { return d.Segment != d.Previous }

// QueuedAction is an action to queue for the customer.
type QueuedAction struct {
	Name     string
	Priority int
	Due      time.Time
	Payload  map[string]any
}

// WithheldStatus says why an action whose condition held was not queued.
type WithheldStatus string

// Statuses of withheld actions, as the queue records them.
const (
	// HeldOut: the customer is in the action's holdout group.
	HeldOut WithheldStatus = "held_out"
	// Suppressed: a contact limit was reached; higher-priority actions
	// took the customer's remaining contacts.
	Suppressed WithheldStatus = "suppressed"
)

// WithheldAction is an action that fired (its condition held and its
// cooldown had passed) but was not queued.
type WithheldAction struct {
	QueuedAction
	Status WithheldStatus
	// Reason says in words why, such as "contact limit 2 per 7d reached
	// (2 contacts since 2024-06-24)".
	Reason string
}

// CoverageState is a customer's standing against its segment's coverage
// target (rules.Coverage) at the as-of.
type CoverageState uint8

// Coverage states.
const (
	// CoverageNone: the customer's segment has no coverage target (or the
	// customer has no segment).
	CoverageNone CoverageState = iota
	// CoverageCovered: a covering outcome within the target's window.
	CoverageCovered
	// CoveragePending: not covered yet, but the customer has been in the
	// segment, and since its last covering outcome, for less than the
	// window.
	CoveragePending
	// CoverageOverdue: neither covered within the window nor new to it.
	CoverageOverdue
)

var coverageNames = [...]string{"none", "covered", "pending", "overdue"}

func (s CoverageState) String() string {
	if int(s) < len(coverageNames) {
		return coverageNames[s]
	}
	return fmt.Sprintf("CoverageState(%d)", s)
}

// RuleError is a rule that failed at runtime for one customer, such as a
// null compared with a number, a payload that is not a finite number, or
// a fact whose value could not be used.
type RuleError struct {
	Key string
	// Rule is the field path of the failing expression, such as
	// "segmentations.value_tier.segments.vip.when" or
	// "actions.winback_call.payload.discount", or of the fact, such as
	// "facts.spend_12m".
	Rule string
	Err  error
	// Facts lists what the failing expression reads (rules.Expr.Reads:
	// facts, segment.X and previous.X) with the customer's values, the
	// null ones first; empty for an error of a fact itself. Message and
	// Error append it, as in "invalid operation: <nil> >= int
	// (last_order_at is null; spend_12m = 12.5)".
	Facts []FactValue
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("customer %s: %s: %s", e.Key, e.Rule, e.Message())
}

// Message is the error's text without expr's in-expression position and
// snippet (Rule already says which expression failed), followed by the
// facts the expression read, when there are any.
func (e *RuleError) Message() string {
	msg := e.cause()
	if len(e.Facts) > 0 {
		msg += " (" + formatFacts(e.Facts) + ")"
	}
	return msg
}

func (e *RuleError) cause() string {
	var fe *file.Error
	if errors.As(e.Err, &fe) {
		if fe.Message != "" {
			return fe.Message
		}
		if fe.Prev != nil {
			return fe.Prev.Error()
		}
	}
	return e.Err.Error()
}

func (e *RuleError) Unwrap() error { return e.Err }

// Result is the outcome of evaluating one customer.
type Result struct {
	// Segments holds the decision per segmentation, indexed like
	// RuleSet.Segmentations.
	Segments []Decision
	Actions  []QueuedAction
	// Withheld lists the actions that fired but were held out or
	// suppressed by a contact limit, in priority order.
	Withheld []WithheldAction
	// Coverage holds the customer's coverage state per segmentation,
	// indexed like RuleSet.Segmentations, for the segment it is in after
	// the run; nil when the rule set has no coverage target.
	Coverage []CoverageState
	Errors   []RuleError
	// Left is true for a customer who left the facts source
	// (Customer.Absent).
	Left bool
	// Wake is when the customer must next be evaluated if nothing but
	// time passes: the earliest as-of after this one at which evaluating
	// it again, with the same facts, outcomes and contacts, and the state
	// a store saves from this result (its new segments with their since
	// and pending-since dates, the actions queued or held out as last
	// queued at this as-of), could come out as anything but a no-op: a
	// move, a pending date started or cleared, an action queued, held out
	// or suppressed, a rule error, a coverage state. It is never later
	// than that, and as late as the rules allow to see (see "When a
	// customer is next evaluated" in docs/rules.md).
	//
	// The zero time means never: nothing evaluated for the customer
	// depends on time. A time not after the as-of (the as-of itself)
	// means on every run: something that depends on time could not be
	// analysed, or the next run changes something already. A store keeps
	// it in one nullable timestamp column, NULL for never, and evaluates
	// the customers with wake_at <= the run's as-of (and those whose facts
	// or outcomes changed, or who are new).
	Wake time.Time
}

// Changed reports whether any segment changed or any action is queued.
func (r *Result) Changed() bool {
	if len(r.Actions) > 0 || len(r.Withheld) > 0 {
		return true
	}
	for i := range r.Segments {
		if r.Segments[i].Changed() {
			return true
		}
	}
	return false
}

func (r *Result) reset(n int) {
	if cap(r.Segments) >= n {
		r.Segments = r.Segments[:n]
		clear(r.Segments)
	} else {
		r.Segments = make([]Decision, n)
	}
	clear(r.Actions)
	r.Actions = r.Actions[:0]
	clear(r.Withheld)
	r.Withheld = r.Withheld[:0]
	r.Coverage = r.Coverage[:0]
	clear(r.Errors)
	r.Errors = r.Errors[:0]
	r.Left = false
	r.Wake = time.Time{}
}
