package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// EffectsSource is implemented by state stores that can read back what
// effect and cost reports need: the decisions the queue recorded and the
// moves the history did.
type EffectsSource interface {
	// Decisions calls fn with the rule set's actions named by q (all
	// when q.Actions is nil) that were queued or held out (every status
	// but suppressed and cancelled; no segment syncs), created (as of
	// their run) in [q.From, q.Until], ordered by customer key (byte
	// order), then creation time, then id.
	Decisions(ctx context.Context, q EffectsQuery, fn func(*ActionDecision) error) error
	// Moves calls fn with the rule set's history rows as of q.From or
	// later of the customers Decisions(q) returns a decision of, ordered
	// by customer key (byte order), then as-of, then id.
	Moves(ctx context.Context, q EffectsQuery, fn func(*HistoryMove) error) error
}

// EffectsQuery selects the decisions, and the customers whose moves, an
// effects report reads.
type EffectsQuery struct {
	RuleSet string
	// Actions names the actions to read; nil reads every action.
	Actions     []string
	From, Until time.Time
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
	// Segments is the customer's segment per segmentation after that run;
	// empty for actions queued before the queue kept it (migration 0006).
	Segments map[string]string
	// Outcome is how the follow-up ended (OutcomeReport.Outcome), "" when
	// it has not, or ended without one.
	Outcome string
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
	// From and Until bound the decisions looked at (their as-of), both
	// included. A zero Until is Latest, or no bound when Latest is zero
	// too.
	From, Until time.Time
	// Horizons are the days after a decision at which treated and
	// held-out customers are compared; DefaultHorizons when empty.
	Horizons []int
	// MinGroup is the smallest treated and held-out group a comparison
	// concludes from; DefaultMinGroup when zero.
	MinGroup int
	// Latest is the as-of of the rule set's latest successful run: a
	// decision is compared at horizon h only when At+h is not after it,
	// since the history shows where its customer was then only up to
	// there. A zero Latest compares nothing.
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
	// Method names the confidence interval of the differences
	// (EffectsMethod).
	Method string `json:"method"`
	// Horizons and MinGroup are the options the report was made with,
	// defaults filled in; Horizons ascend.
	Horizons []int `json:"horizons_days"`
	MinGroup int   `json:"min_group"`
	// Effects holds one comparison per action with a holdout,
	// segmentation, segment and horizon that any customer was observed
	// at: in the rule file's order of actions and segmentations, then by
	// segment rank and horizon.
	Effects []TreatmentEffect `json:"effects"`
	// Costs holds one class per action with a cost, segmentation and
	// segment that any treated decision was in, in the same order.
	Costs []ClassCost `json:"costs"`
}

// TreatmentEffect is one comparison: customers the action fired for
// while in Segment of Segmentation, Horizon days later.
//
// Each customer counts once per action, by its first decision of the
// action in the period (its as-of is the customer's day 0), whatever
// came of it: a customer treated again later (after a cooldown) weighs
// no more than one treated once, and the treated group holds every
// customer the action was queued for, reached or not (intent to treat),
// as the held-out group holds every customer it fired for but withheld.
// The group is the first decision's: ActionHeldOut is held out, any
// other status treated.
type TreatmentEffect struct {
	Action       string `json:"action"`
	Segmentation string `json:"segmentation"`
	Segment      string `json:"segment"`
	Horizon      int    `json:"horizon_days"`
	Treated      int    `json:"treated"`
	HeldOut      int    `json:"held_out"`
	// Stayed, Churned and MovedUp compare the shares Horizon days later
	// still in the segment (or in it again), in the churn segment of the
	// churn segmentation (zero when the rule set declares no churn), and
	// in a higher-ranked segment of Segmentation. A customer's segment
	// then is where the last move of the history after day 0 and by day
	// Horizon put it, or where day 0 left it.
	Stayed  Comparison `json:"stayed"`
	Churned Comparison `json:"churned"`
	MovedUp Comparison `json:"moved_up"`
	// Conclusive is false when either group is smaller than MinGroup;
	// Note then says so.
	Conclusive bool   `json:"conclusive"`
	Note       string `json:"note,omitempty"`
	// Cost is what the treated customers' actions cost: the action's
	// unit cost for each of their treated decisions from day 0 through
	// day Horizon (a repeat within the horizon is part of the treatment
	// compared). KeptPerCost is the customers kept from churning per unit
	// of cost ((held-out churn share - treated churn share) * Treated /
	// Cost); both are 0 when the action has no cost, and KeptPerCost is
	// 0 when the rule set declares no churn or a group is empty.
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

// ClassCost is what one action cost for the customers of one segment:
// every treated decision of the action in the period whose customer was
// in Segment of Segmentation after the decision's run counts UnitCost
// (held-out ones cost nothing). A decision counts once in every
// segmentation; one without a segment there (or with one the rules no
// longer define) counts in none of that segmentation's classes.
type ClassCost struct {
	Action       string `json:"action"`
	Segmentation string `json:"segmentation"`
	Segment      string `json:"segment"`
	// Queued is the number of treated decisions.
	Queued   int     `json:"queued"`
	UnitCost float64 `json:"unit_cost"`
	Cost     float64 `json:"cost"`
}

// Effects builds the effects report of rs from src. When src counts
// the observations itself (EffectCounter) and gives the queue's counts
// (ReportSource), it asks for the counts of the actions with a holdout
// and takes the cost per class from the queue's counts; otherwise it
// reads the decisions of the actions with a holdout in the period
// (through Latest, for the cost of repeats within a horizon) and their
// customers' moves since From, merged by customer, holding one
// customer's rows at a time, and takes the cost per class from the
// queue's counts when src can give them, else from the decisions of the
// actions with a cost too.
func Effects(ctx context.Context, src EffectsSource, rs *rules.RuleSet, opts EffectsOptions) (*EffectsReport, error) {
	r, err := newEffectsRun(rs, opts)
	if err != nil {
		return nil, fmt.Errorf("effects of %s: %w", rs.Name, err)
	}
	counts, _ := src.(ReportSource)
	r.costsFromCounts = counts != nil
	if err := r.observeAll(ctx, src); err != nil {
		return nil, fmt.Errorf("effects of %s: %w", rs.Name, err)
	}
	return r.finish(ctx, counts, nil)
}

// finish adds the cost per class from the queue's counts, when the run
// takes them from there: costs, the counts of [From, Until] already read,
// or src's when costs is nil. Then it makes the report.
func (r *effectsRun) finish(ctx context.Context, src ReportSource, costs []ActionCount) (*EffectsReport, error) {
	switch {
	case !r.costsFromCounts || !r.hasCosts():
	case costs != nil:
		for i := range costs {
			if err := r.addCostCount(&costs[i]); err != nil {
				return nil, fmt.Errorf("effects of %s: %w", r.rs.Name, err)
			}
		}
	default:
		if err := src.ActionCounts(ctx, r.rs.Name, r.opts.From, r.opts.Until, r.addCostCount); err != nil {
			return nil, fmt.Errorf("effects of %s: count actions: %w", r.rs.Name, err)
		}
	}
	return r.report(), nil
}

// observeAll reads the observations: from src's counts when it counts
// them and the costs come from the queue's counts, else by merging its
// streams (which then give the costs too, without the queue's counts).
func (r *effectsRun) observeAll(ctx context.Context, src EffectsSource) error {
	var holdouts, names []string
	for _, a := range r.rs.Actions {
		if a.Holdout.BasisPoints > 0 {
			holdouts = append(holdouts, a.Name)
		}
		if a.Holdout.BasisPoints > 0 || (a.Cost > 0 && !r.costsFromCounts) {
			names = append(names, a.Name)
		}
	}
	if ec, ok := src.(EffectCounter); ok && r.costsFromCounts {
		if len(holdouts) == 0 {
			return nil
		}
		if err := ec.EffectCounts(ctx, r.countQuery(holdouts), r.addEffectCount); err != nil {
			return fmt.Errorf("count the observations: %w", err)
		}
		return nil
	}
	if len(names) == 0 {
		return nil
	}
	until := r.opts.Until
	if r.opts.Latest.After(until) {
		until = r.opts.Latest
	}
	q := EffectsQuery{RuleSet: r.rs.Name, Actions: names, From: r.opts.From, Until: until}
	return mergeCustomers(ctx, src, q, r.customer)
}
