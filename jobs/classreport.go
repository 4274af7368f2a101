package jobs

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tierflow/tierflow/rules"
)

// ClassReportFormatVersion is the version of ClassReport's JSON
// (docs/output.md, "report data"); it changes only when a field changes
// meaning or is removed.
const ClassReportFormatVersion = 1

// ReportSource is what a class report reads from a state store: the run
// record with each run's stored report, and the queue's counts. Stores
// that implement it also implement EffectsSource. Each call stops at the
// first error fn returns, and returns it (wrapped with %w, if at all);
// fn must not keep the pointer it is given, which the next call may
// reuse, but may keep what it points to. Segments maps are read-only: a
// source may share one between counts.
type ReportSource interface {
	// RunRecords calls fn for every run of the rule set whose as-of is in
	// [from, until], by as-of, then start time and id, with the plan
	// report it stored (nil for runs that stored none). Runs and actions
	// (by the as-of of the run that queued them) share one time base, so
	// that a backfill of past dates is in the period of those dates.
	RunRecords(ctx context.Context, ruleset string, from, until time.Time, fn func(*RunRecord) error) error
	// ActionCounts calls fn once per action, status and segments (the
	// customer's segments when the action was queued, as the queue keeps
	// them) of the rule set's actions created (as of their run) in
	// [from, until], with the number of such actions. Segment syncs
	// (sync.SEGMENTATION) are deliveries, not actions: they are left out.
	// The order is the store's; a report sorts what it keeps.
	ActionCounts(ctx context.Context, ruleset string, from, until time.Time, fn func(*ActionCount) error) error
}

// RunRecord is one run as the run record has it.
type RunRecord struct {
	ID        int64
	Kind      string
	AsOf      time.Time
	Slot      time.Time // zero: started by hand
	Status    Status
	Started   time.Time
	Finished  time.Time // zero: still running, or died
	Customers int64
	Changed   int64
	Actions   int64
	Errors    int64
	Error     string
	Report    *PlanReport
}

// ActionCount is a number of queued actions with one action, status and
// class. Segments is empty for actions queued before the queue kept them
// (migration 0006).
type ActionCount struct {
	Action   string
	Status   string
	Segments map[string]string
	Count    int64
}

// ClassReportOptions selects what a class report covers.
type ClassReportOptions struct {
	// From and Until bound the runs (by their as-of) and the actions (by
	// the as-of of the run that queued them) the report looks at, both
	// included. A zero Until reads everything from From on; the report's
	// Until is then the latest start or as-of of the runs read (From when
	// there is none).
	From, Until time.Time
	// Period is the length of the periods churn rates are computed for,
	// from From on; DefaultChurnPeriod when zero.
	Period time.Duration
	// Effects, when set, adds the effects report (Effects) of the same
	// period; Horizons and MinGroup as EffectsOptions.
	Effects  bool
	Horizons []int
	MinGroup int
	// SkipActions leaves Actions empty without reading the queue: for
	// callers that need only what the run record holds (tierflow sizes).
	SkipActions bool
}

// DefaultChurnPeriod is the churn-rate period of a class report.
const DefaultChurnPeriod = 30 * 24 * time.Hour

// ClassReport is everything `tierflow report` shows of one rule set over a
// period: class sizes over runs, moves, churn rate by class, actions by
// status and class, coverage over runs, effects, and the runs themselves.
// Its JSON is the report's data (docs/output.md, "report data").
type ClassReport struct {
	FormatVersion int       `json:"format_version"`
	RuleSet       string    `json:"ruleset"`
	Label         string    `json:"label,omitempty"`
	From          time.Time `json:"from"`
	Until         time.Time `json:"until"`
	// Segmentations lists the rule set's segmentations and segments in
	// rank order, with labels, as the charts order them.
	Segmentations []ReportSegmentation `json:"segmentations"`
	// Runs are every run whose as-of is in the period, by as-of.
	Runs []ReportRun `json:"runs"`
	// Sizes are the class sizes after each succeeded apply of the period.
	Sizes []SizePoint `json:"sizes"`
	// Moves are the move matrices: of the latest succeeded apply (scope
	// "latest") and summed over the period's succeeded applies ("period").
	Moves []MoveCell `json:"moves"`
	// Churn is the churn rate by class per period; nil when the rule set
	// declares no churn segment.
	Churn *ChurnReport `json:"churn,omitempty"`
	// Actions counts the period's actions by action, status and class.
	Actions []ActionClassCount `json:"actions"`
	// Coverage is each coverage target's standing after each succeeded
	// apply of the period.
	Coverage []CoveragePoint `json:"coverage"`
	// Effects compares treated and held-out customers over the period;
	// nil unless asked for (ClassReportOptions.Effects).
	Effects *EffectsReport `json:"effects,omitempty"`
}

// ReportSegmentation is one segmentation and its segments, in rank order.
type ReportSegmentation struct {
	Name     string          `json:"name"`
	Label    string          `json:"label,omitempty"`
	Segments []ReportSegment `json:"segments"`
}

// ReportSegment is one segment; Rank 1 is the highest.
type ReportSegment struct {
	Name  string `json:"name"`
	Label string `json:"label,omitempty"`
	Rank  int    `json:"rank"`
}

// ReportRun is one run of the period.
type ReportRun struct {
	ID     int64     `json:"id"`
	Kind   string    `json:"kind"`
	AsOf   time.Time `json:"as_of"`
	Status Status    `json:"status"`
	// Started, and the run's duration in seconds (0 when it has not
	// finished).
	Started   time.Time `json:"started"`
	Seconds   float64   `json:"seconds"`
	Customers int64     `json:"customers"`
	Changed   int64     `json:"changed"`
	Actions   int64     `json:"actions"`
	Errors    int64     `json:"errors"`
	// ErrorsByRule counts rule errors by rule field path, from the run's
	// report.
	ErrorsByRule map[string]int `json:"errors_by_rule,omitempty"`
	// GuardReasons say why a guard refused (blocked) or failed the run.
	GuardReasons []string `json:"guard_reasons,omitempty"`
	Error        string   `json:"error,omitempty"`
}

// SizePoint is one class's size after one run.
type SizePoint struct {
	RunID        int64     `json:"run_id"`
	AsOf         time.Time `json:"as_of"`
	Segmentation string    `json:"segmentation"`
	Segment      string    `json:"segment"`
	Customers    int       `json:"customers"`
}

// MoveCell is one cell of a move matrix: customers moving From one
// segment To another ("" for no segment). Direction is "up" (to a
// higher rank), "down", "in" (from no segment), "out" (to none).
type MoveCell struct {
	Scope        string `json:"scope"` // "latest" or "period"
	RunID        int64  `json:"run_id,omitempty"`
	Segmentation string `json:"segmentation"`
	From         string `json:"from"`
	To           string `json:"to"`
	Count        int    `json:"count"`
	Direction    string `json:"direction"`
}

// ChurnReport is the churn rate by class per period. The rate of class X
// in a period is the number of customers who entered the churn segment
// during it while in X, over the customers in X at the period's start
// (the size before its first succeeded apply).
type ChurnReport struct {
	Segmentation string `json:"segmentation"`
	Segment      string `json:"segment"`
	// Definition says in words what the rate is, to print under a chart.
	Definition string      `json:"definition"`
	Rates      []ChurnRate `json:"rates"`
}

// ChurnRate is one class's churn in one period.
type ChurnRate struct {
	PeriodStart  time.Time `json:"period_start"`
	PeriodEnd    time.Time `json:"period_end"`
	Segmentation string    `json:"segmentation"`
	Segment      string    `json:"segment"`
	AtStart      int       `json:"at_start"`
	Churned      int       `json:"churned"`
	// Rate is Churned / AtStart, 0 when AtStart is 0.
	Rate float64 `json:"rate"`
	// Applies are the succeeded applies of the period; Uncounted those
	// of them whose report counted no churn (recorded before tierflow
	// counted it, or before the rule set declared churn), whose churn is
	// missing from Churned.
	Applies   int `json:"applies"`
	Uncounted int `json:"uncounted,omitempty"`
}

// ActionClassCount counts one action's actions with one status among the
// customers of one class (their segment when it was queued).
type ActionClassCount struct {
	Action       string `json:"action"`
	Segmentation string `json:"segmentation"`
	Segment      string `json:"segment"`
	Status       string `json:"status"`
	Count        int64  `json:"count"`
}

// CoveragePoint is one coverage target's standing after one run.
type CoveragePoint struct {
	RunID int64     `json:"run_id"`
	AsOf  time.Time `json:"as_of"`
	CoverageReport
}

// BuildClassReport builds the class report of rs from src: it reads the
// run record of the period once, keeping from each run what the report
// shows, and the queue's counts by action, status and segments, so that
// its memory grows with the runs and the distinct classes, never with
// the customers. When opts.Effects is set and src is an EffectsSource
// too, it adds the effects report of the period (Effects), compared up
// to the latest succeeded apply.
//
// Every list is in a fixed order: runs oldest first (as src returns
// them); sizes, coverage and churn by as-of (or period), moves by scope
// ("latest", then "period"), then in the rule file's order of
// segmentations and rank order of segments, with segments the rules no
// longer define after those they do, by name, and no segment ("") last;
// actions in the rule file's order, then segmentation, segment and
// status (in the order an action goes through them). Segmentations the
// rules no longer define are left out.
func BuildClassReport(ctx context.Context, src ReportSource, rs *rules.RuleSet, opts ClassReportOptions) (*ClassReport, error) {
	b, err := newClassBuilder(rs, opts)
	if err != nil {
		return nil, fmt.Errorf("class report of %s: %w", rs.Name, err)
	}
	if err := src.RunRecords(ctx, rs.Name, b.opts.From, b.until, b.run); err != nil {
		return nil, fmt.Errorf("class report of %s: %w", rs.Name, err)
	}
	es, withEffects := src.(EffectsSource)
	var eff *effectsRun
	if withEffects = withEffects && opts.Effects; withEffects {
		if eff, err = newEffectsRun(rs, EffectsOptions{From: opts.From, Until: b.reportUntil(), Horizons: opts.Horizons,
			MinGroup: opts.MinGroup, Latest: b.latest.asOf}); err != nil {
			return nil, fmt.Errorf("class report of %s: effects of %s: %w", rs.Name, rs.Name, err)
		}
		eff.costsFromCounts = true
	}
	// The queue's counts and the effects' observations are two large
	// queries: they run side by side, on two connections.
	g, gctx := errgroup.WithContext(ctx)
	if withEffects {
		g.Go(func() error {
			if err := eff.observeAll(gctx, es); err != nil {
				return fmt.Errorf("effects of %s: %w", rs.Name, err)
			}
			return nil
		})
	}
	var counts []ActionCount
	if !opts.SkipActions {
		g.Go(func() error { return b.countActions(gctx, src, withEffects, &counts) })
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("class report of %s: %w", rs.Name, err)
	}
	rep := b.report()
	if withEffects {
		costs, err := b.effectCosts(ctx, src, rep, counts)
		if err == nil {
			rep.Effects, err = eff.finish(ctx, src, costs)
		}
		if err != nil {
			return nil, fmt.Errorf("class report of %s: %w", rs.Name, err)
		}
	}
	return rep, nil
}

// countActions adds the queue's counts of the period to the report, and
// keeps them in counts too when keep is set, for the cost per class.
func (b *classBuilder) countActions(ctx context.Context, src ReportSource, keep bool, counts *[]ActionCount) error {
	add := b.actions.add
	if keep {
		*counts = []ActionCount{}
		add = func(c *ActionCount) error {
			if c != nil {
				*counts = append(*counts, *c)
			}
			return b.actions.add(c)
		}
	}
	return src.ActionCounts(ctx, b.rs.Name, b.opts.From, b.until, add)
}

// effectCosts returns the queue's counts of the effects report's period,
// [rep.From, rep.Until], when the report's own counts (of [From,
// b.until]) are those: when the period has an end, or when the queue
// holds no action after rep.Until (state times are kept to the
// microsecond, as jobs.Options.AsOf is truncated to it). It returns nil,
// for the effects report to count them itself, otherwise.
func (b *classBuilder) effectCosts(ctx context.Context, src ReportSource, rep *ClassReport, counts []ActionCount) ([]ActionCount, error) {
	if counts == nil || b.until.Equal(rep.Until) {
		return counts, nil
	}
	later := false
	err := src.ActionCounts(ctx, b.rs.Name, rep.Until.Add(time.Microsecond), b.until, func(*ActionCount) error {
		later = true
		return nil
	})
	if err != nil || later {
		return nil, err
	}
	return counts, nil
}
