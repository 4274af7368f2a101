package rules

import (
	"time"

	"github.com/expr-lang/expr/vm"
)

// RuleSet is one compiled rule file: its parameters, facts schema,
// segmentations, follow-up actions and test cases. It is immutable once
// compiled and safe for concurrent use.
type RuleSet struct {
	// Name identifies the rule set in state tables, logs and output.
	Name        string
	Label       string
	Description string
	// Key is the name of the facts column that identifies a customer.
	Key string
	// File is the path the rule set was loaded from; Hash is the hex
	// SHA-256 of its bytes, recorded with every run.
	File string
	Hash string

	// Schedule is when `tierflow serve` runs the rule set; nil when the
	// rule set has none.
	Schedule *Schedule

	// Timezone is the IANA name of the zone the rule set's calendar is in
	// (`timezone:` in the rule file, "UTC" when left out): the as-of date
	// is the as-of time's day there, date facts count calendar days from
	// it, and year, month and months of times are read there. Location is
	// the loaded zone; Zone returns it, or UTC for a rule set built by hand.
	Timezone string
	Location *time.Location

	// OnMissing says what happens to a customer the state knows but the
	// facts source no longer returns: OnMissingKeep (the default) keeps
	// its segments, OnMissingExit moves it out of every segmentation (see
	// engine.Customer.Absent). Compile always sets it; "" in a rule set
	// built by hand means OnMissingKeep.
	OnMissing OnMissing

	// Limits caps how often any customer is contacted across all the rule
	// set's actions (`limits:` in the rule file); nil when there is none.
	Limits *Limits
	// Churn names the segment that counts as churn (`churn:
	// lifecycle.churned`), which effect reports measure; nil when the rule
	// set declares none.
	Churn *SegmentRef

	Params []Param
	Facts  *Schema
	// Segmentations are in file order; EvalOrder lists their indexes in
	// dependency order, so a segmentation is evaluated after every
	// segmentation whose new segment it reads.
	Segmentations []*Segmentation
	EvalOrder     []int
	Actions       []*Action
	Tests         []*TestCase

	// Fast holds the programs that decide each segmentation, and every
	// action's condition, in one VM run. Compile builds it once; it is nil
	// in a rule set built by hand, which the engine then evaluates rule by
	// rule. A copy that changes Segmentations or Actions must set it to nil.
	Fast *FastPath

	// Warnings are problems that do not stop the rule set from running.
	Warnings []Diagnostic
}

// OnMissing is a rule set's policy for customers who leave the facts
// source, written `on_missing: keep | exit` at the top of the rule file.
type OnMissing string

// The on_missing policies.
const (
	// OnMissingKeep keeps an absent customer's segments as they were.
	OnMissingKeep OnMissing = "keep"
	// OnMissingExit moves an absent customer out of every segmentation;
	// actions that call left("SEGMENTATION") see it leave.
	OnMissingExit OnMissing = "exit"
)

// HasCoverage reports whether some segment declares a coverage target:
// runs then read the customers' outcomes.
func (rs *RuleSet) HasCoverage() bool {
	for _, s := range rs.Segmentations {
		if hasCoverage(s) {
			return true
		}
	}
	return false
}

// HasHoldout reports whether some action keeps a holdout group.
func (rs *RuleSet) HasHoldout() bool {
	for _, a := range rs.Actions {
		if a.Holdout.BasisPoints > 0 {
			return true
		}
	}
	return false
}

// Exits reports whether customers who leave the facts source leave their
// segments (on_missing: exit).
func (rs *RuleSet) Exits() bool { return rs.OnMissing == OnMissingExit }

// Segmentation returns the segmentation called name and its index, or
// (nil, -1).
func (rs *RuleSet) Segmentation(name string) (*Segmentation, int) {
	for i, s := range rs.Segmentations {
		if s.Name == name {
			return s, i
		}
	}
	return nil, -1
}

// Action returns the action called name and its index, or (nil, -1).
func (rs *RuleSet) Action(name string) (*Action, int) {
	for i, a := range rs.Actions {
		if a.Name == name {
			return a, i
		}
	}
	return nil, -1
}

// Schedule says when a rule set runs by itself: a standard five-field
// cron spec ("0 2 * * *") in an explicit time zone ("Asia/Shanghai").
type Schedule struct {
	Cron     string
	Timezone string
	Pos      Pos
}

// Param is a named constant that rules read as params.NAME.
type Param struct {
	Name  string
	Value any // int, float64, string, bool or []any of those
	Pos   Pos
}

// Segmentation is one dimension of classification. Every customer is in
// exactly one of its segments.
type Segmentation struct {
	Name  string
	Label string
	// Segments are in rank order: the first is the highest rank and is
	// tried first. Exactly one segment is the fallback.
	Segments []*Segment
	// Fallback is the index of the fallback segment.
	Fallback int
	// DependsOn names the segmentations whose new segment this one reads.
	DependsOn []string
	Pos       Pos

	index map[string]int
}

// SegmentIndex returns the index (rank-1) of the segment called name, or -1.
func (s *Segmentation) SegmentIndex(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

// DisplayLabel returns the label, or the name when there is no label.
func (s *Segmentation) DisplayLabel() string { return orName(s.Label, s.Name) }

// Segment is one class within a segmentation.
type Segment struct {
	Name  string
	Label string
	// Rank is 1 for the first (highest) segment, 2 for the next, and so on.
	Rank int
	// When is nil for the fallback segment.
	When     *Expr
	Fallback bool
	// MinStay keeps a customer in the segment for at least this long after
	// entering it, whatever the conditions say.
	MinStay time.Duration
	// DowngradeGrace keeps a customer whose conditions now point to a
	// lower-ranked segment in this one until they have pointed lower for
	// this long.
	DowngradeGrace time.Duration
	// Coverage is the segment's follow-up target (覆盖率): how often each
	// of its customers must be reached, by which actions and outcomes;
	// nil when the segment has none.
	Coverage *Coverage
	Pos      Pos
}

// Coverage is a segment's coverage target, written
// `coverage: {every: 28d, by: [vip_care_visit], counts: [reached, converted]}`.
// A customer of the segment is covered when one of the By actions ended
// with one of the Counts outcomes within Every before the as-of.
type Coverage struct {
	Every time.Duration
	// By names the actions that cover; ByIndex holds their indexes in
	// RuleSet.Actions.
	By      []string
	ByIndex []int
	// Counts names the outcomes that count as covering.
	Counts []string
	Pos    Pos
}

// Covers reports whether an outcome of the action at index action counts
// toward the target.
func (c *Coverage) Covers(action int, outcome string) bool {
	return contains(c.Counts, outcome) && containsInt(c.ByIndex, action)
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Limits is a rule set's contact-pressure limit, written
// `limits: {per_customer: 2 per 7d, per_channel: {phone: 1 per 14d}}`.
type Limits struct {
	// PerCustomer caps the actions queued for one customer across all
	// actions; nil when only channels are limited.
	PerCustomer *Limit
	// PerChannel caps the actions of one channel (Action.Channel), by
	// channel name.
	PerChannel map[string]*Limit
	Pos        Pos
}

// Window is the longest window of any of the limits: how far back a run
// must know the customer's contacts.
func (l *Limits) Window() time.Duration {
	if l == nil {
		return 0
	}
	var w time.Duration
	if l.PerCustomer != nil {
		w = l.PerCustomer.Within
	}
	for _, c := range l.PerChannel {
		w = max(w, c.Within)
	}
	return w
}

// Limit is at most Count actions within Within ("2 per 7d").
type Limit struct {
	Count  int
	Within time.Duration
	// Source is the limit as written, for messages.
	Source string
	Pos    Pos
}

// SegmentRef names one segment of one segmentation ("lifecycle.churned").
type SegmentRef struct {
	Segmentation string
	Segment      string
	Pos          Pos
}

func (r SegmentRef) String() string { return r.Segmentation + "." + r.Segment }

// DisplayLabel returns the label, or the name when there is no label.
func (s *Segment) DisplayLabel() string { return orName(s.Label, s.Name) }

// Action is a follow-up rule: when its condition holds for a customer, the
// action is queued for that customer.
type Action struct {
	Name  string
	Label string
	When  *Expr
	// Cooldown suppresses the action for a customer it was queued for less
	// than this long ago.
	Cooldown time.Duration
	// Delay makes the action due this long after the run's as-of time.
	Delay time.Duration
	// Priority orders work for consumers: lower numbers first.
	Priority int
	// Channel is how the action reaches the customer ("phone", "email"),
	// which per-channel limits count; "" for none.
	Channel string
	// Holdout keeps a deterministic share of the customers the action
	// fires for out of it, as a control group (see Holdout); zero for
	// none.
	Holdout Holdout
	// Cost is what one queued action costs, in the rule set's currency,
	// for cost reports; zero when not declared.
	Cost float64
	// Outcomes lists how the action may end (`outcomes: [reached,
	// no_answer, converted, declined]`), which consumers report with
	// `tierflow actions done ID --outcome NAME`; empty when the action
	// declares none.
	Outcomes []string
	// DeliverTo names the destination (under destinations: in
	// tierflow.yaml) that tierflow delivers the action to; "" leaves it to
	// consumers that claim it from the queue.
	DeliverTo string
	Payload   []PayloadField
	// CallsLeft is true when the condition calls left("SEGMENTATION"):
	// such actions are the only ones evaluated for a customer who left
	// the facts source (on_missing: exit).
	CallsLeft bool
	Pos       Pos
}

// DisplayLabel returns the label, or the name when there is no label.
func (a *Action) DisplayLabel() string { return orName(a.Label, a.Name) }

// HasOutcome reports whether the action declares the outcome.
func (a *Action) HasOutcome(name string) bool { return contains(a.Outcomes, name) }

// Holdout is an action's control group, written `holdout: 10%` with an
// optional `holdout_salt:`. Whether a customer is held out is a pure
// function of the rule set, the action, the salt and the customer's key
// (HoldoutBucket), stable across runs.
type Holdout struct {
	// BasisPoints is the share held out in hundredths of a percent: 1000
	// for 10%. Zero means no holdout.
	BasisPoints int
	Salt        string
	Pos         Pos
}

// Share is the held-out share as a fraction (0.1 for 10%).
func (h Holdout) Share() float64 { return float64(h.BasisPoints) / 10000 }

// PayloadField is one field of an action's payload: a constant Value, or
// an Expr evaluated for each customer (written with a leading "=").
type PayloadField struct {
	Name  string
	Value any
	Expr  *Expr
}

// Expr is a compiled expression with the source it came from.
type Expr struct {
	Source  string
	Program *vm.Program
	// Reads lists the facts, and the segment.X and previous.X variables,
	// that the expression reads, in first-use order, for explanations.
	Reads []string
	// Field is the dotted path of the expression in the rule file.
	Field string
	Pos   Pos
	// Cost bounds the steps one evaluation can take, whatever the facts;
	// it is at most MaxExprSteps (see "Limits" in docs/rules.md).
	Cost int64
	// Date is true when the expression's value is a date (a time.Time at
	// 00:00 UTC of the day); a payload writes it as the day, 2024-06-30.
	Date bool
	// SourcePos is where Source's first character is in the file (after
	// an opening quote, or a payload's =). Linear is true when Source
	// stands on that line as written, with no escape or line break, so
	// that an offset in it adds to the column (PosAt).
	SourcePos Pos
	Linear    bool
}

// TestCase is one rule test: facts, previous state and an as-of time in,
// expected segments and actions out.
type TestCase struct {
	Name string
	AsOf time.Time
	// Facts holds the customer's facts by name, already converted to the
	// schema's types. Facts the case leaves out are zero, or null when the
	// field is nullable.
	Facts map[string]any
	// Previous holds the customer's previous segment per segmentation.
	Previous map[string]PreviousSegment
	// LastActions holds when each action was last queued for the customer.
	LastActions map[string]time.Time
	// Key is the customer's key (`key:`), which holdout membership
	// depends on; "" when the case gives none (ruletest then uses "test:"
	// and the case's name).
	Key string
	// Outcomes are follow-ups that ended before the as-of, for coverage
	// (`outcomes: [{action: vip_care_visit, outcome: reached, at: 2024-06-01}]`).
	Outcomes []TestOutcome
	// Contacts are actions queued for the customer before the as-of, for
	// contact limits (`contacts: [{action: onboarding_message, at: 2024-06-28}]`).
	Contacts []TestContact
	// Absent says the customer is no longer in the facts source (`absent:
	// true`, only under on_missing: exit): it has no facts and leaves the
	// segments Previous gives it.
	Absent bool
	Expect Expectation
	Pos    Pos
}

// TestOutcome is one ended follow-up of a test case.
type TestOutcome struct {
	Action  string
	Outcome string
	At      time.Time
}

// TestContact is one action queued for a test case's customer.
type TestContact struct {
	Action string
	At     time.Time
}

// PreviousSegment is a test case's previous assignment in one segmentation.
type PreviousSegment struct {
	Segment      string
	Since        time.Time
	PendingSince time.Time
}

// Expectation is what a test case expects. A nil map or slice is not
// checked; an empty Actions slice expects that no action is queued.
type Expectation struct {
	// Segments holds the expected segment per segmentation; "" expects no
	// segment (written `value_tier: ~` or `value_tier: ""`).
	Segments map[string]string
	Actions  []ExpectedAction
	// ActionsSet is true when the case lists actions, even an empty list.
	ActionsSet bool
	// Suppressed and HeldOut name the actions expected to be withheld by
	// a contact limit or a holdout; nil is not checked, an empty list
	// expects none.
	Suppressed []string
	HeldOut    []string
	// Coverage holds the expected coverage state per segmentation:
	// "covered", "pending", "overdue" or "none" (engine.CoverageState).
	Coverage map[string]string
}

// ExpectedAction names an action a test expects, with an optional subset
// of payload fields that must match.
type ExpectedAction struct {
	Name    string
	Payload map[string]any
}

func orName(label, name string) string {
	if label != "" {
		return label
	}
	return name
}
