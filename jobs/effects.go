package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// EffectsSource is implemented by state stores that can read back what
// effect and cost reports need: the decisions the queue recorded and the
// moves the history did.
type EffectsSource interface {
	// Decisions calls fn with the rule set's actions that were queued or
	// held out (every status but suppressed and cancelled), created (as
	// of their run) in [from, until], ordered by customer key (byte
	// order), then creation time, then id.
	Decisions(ctx context.Context, ruleset string, from, until time.Time, fn func(*ActionDecision) error) error
	// Moves calls fn with the rule set's history rows as of from or
	// later, ordered by customer key (byte order), then as-of, then id.
	Moves(ctx context.Context, ruleset string, from time.Time, fn func(*HistoryMove) error) error
}

// ActionDecision is one action the queue recorded for a customer.
type ActionDecision struct {
	ID       int64
	Action   string
	Customer string
	// Status is the queue status: ActionHeldOut for the control group,
	// any other for a treated customer.
	Status string
	// At is the as-of of the run that decided it.
	At time.Time
	// Segments is the customer's segment per segmentation after that run.
	Segments map[string]string
	Outcome  string
}

// HistoryMove is one move of one customer in one segmentation; From and
// To are "" for no segment.
type HistoryMove struct {
	Customer     string
	Segmentation string
	From, To     string
	At           time.Time
}

// EffectsOptions selects what an effects report covers.
type EffectsOptions struct {
	// From and Until bound the decisions looked at (their as-of).
	From, Until time.Time
	// Horizons are the days after a decision at which treated and
	// held-out customers are compared; DefaultHorizons when empty.
	Horizons []int
	// MinGroup is the smallest treated and held-out group a comparison
	// concludes from; DefaultMinGroup when zero.
	MinGroup int
	// Latest is the as-of of the rule set's latest successful run: a
	// decision is compared at horizon h only when At+h is not after it.
	Latest time.Time
}

// Defaults of EffectsOptions.
var (
	DefaultHorizons = []int{30, 60, 90}
	DefaultMinGroup = 30
)

// EffectsReport compares, per action with a holdout, treated and
// held-out customers after each horizon, and totals what actions with a
// cost cost, per class.
type EffectsReport struct {
	RuleSet string    `json:"ruleset"`
	From    time.Time `json:"from"`
	Until   time.Time `json:"until"`
	Latest  time.Time `json:"latest"`
	// Churn is the segment that counts as churn (rules.RuleSet.Churn),
	// "" when the rule set declares none.
	Churn string `json:"churn,omitempty"`
	// Method names the confidence interval of the differences.
	Method  string            `json:"method"`
	Effects []TreatmentEffect `json:"effects"`
	Costs   []ClassCost       `json:"costs"`
}

// TreatmentEffect is one comparison: customers the action fired for
// while in Segment of Segmentation, Horizon days later.
type TreatmentEffect struct {
	Action       string `json:"action"`
	Segmentation string `json:"segmentation"`
	Segment      string `json:"segment"`
	Horizon      int    `json:"horizon_days"`
	Treated      int    `json:"treated"`
	HeldOut      int    `json:"held_out"`
	// Stayed, Churned and MovedUp compare the shares still in the
	// segment, in the churn segment, and in a higher-ranked segment.
	Stayed  Comparison `json:"stayed"`
	Churned Comparison `json:"churned"`
	MovedUp Comparison `json:"moved_up"`
	// Conclusive is false when either group is smaller than MinGroup;
	// Note then says so.
	Conclusive bool   `json:"conclusive"`
	Note       string `json:"note,omitempty"`
	// Cost is what the treated customers' actions cost; KeptPerCost the
	// customers kept from churning per unit of cost ((held-out churn
	// share - treated churn share) * Treated / Cost), 0 when either is
	// unknown.
	Cost        float64 `json:"cost"`
	KeptPerCost float64 `json:"kept_per_cost"`
}

// Comparison is one share in the treated and held-out groups, their
// difference (treated - held out) and its 95% confidence interval.
type Comparison struct {
	TreatedCount int     `json:"treated_count"`
	HeldOutCount int     `json:"held_out_count"`
	Treated      float64 `json:"treated"`
	HeldOut      float64 `json:"held_out"`
	Diff         float64 `json:"diff"`
	Low          float64 `json:"low"`
	High         float64 `json:"high"`
}

// ClassCost is what one action cost for the customers of one segment.
type ClassCost struct {
	Action       string  `json:"action"`
	Segmentation string  `json:"segmentation"`
	Segment      string  `json:"segment"`
	Queued       int     `json:"queued"`
	UnitCost     float64 `json:"unit_cost"`
	Cost         float64 `json:"cost"`
}

// Effects builds the effects report of rs from src.
func Effects(ctx context.Context, src EffectsSource, rs *rules.RuleSet, opts EffectsOptions) (*EffectsReport, error) {
	return nil, errors.New("jobs.Effects: not written yet")
}
