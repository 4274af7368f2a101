package views

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// Fixed values for the golden files: nothing here is computed, so a
// golden file changes only when rendering does.

var asOf = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func planFixture() *jobs.PlanReport {
	r := &jobs.PlanReport{
		FormatVersion: jobs.ReportFormatVersion, Mode: "plan",
		RuleSet: "retail", RuleSetLabel: "零售客户分群", RulesHash: "9f2c0a", AsOf: asOf,
		Customers: 20000, Changed: 1420, ActionsTotal: 46,
		Segmentations: []jobs.SegmentationReport{{
			Name: "lifecycle", Label: "生命周期", Moved: 1420,
			Segments: []jobs.SegmentReport{
				{Name: "churned", Label: "已流失", Before: 6110, After: 7306},
				{Name: "at_risk", Label: "流失预警", Before: 2400, After: 1624},
				{Name: "active", Before: 11490, After: 11070},
			},
		}, {
			Name: "value_tier", Moved: 0,
			Segments: []jobs.SegmentReport{{Name: "vip", Before: 120, After: 120}},
			Moves:    []jobs.MoveReport{},
		}},
		Actions: []jobs.ActionReport{{Name: "winback_call", Label: "挽回电话", Count: 46}, {Name: "vip_care_visit", Count: 0}},
		Errors: jobs.ErrorReport{
			Customers: 3,
			ByRule:    map[string]int{"segmentations.lifecycle.segments.churned.when": 2, "actions.winback_call.when": 1},
			Examples: []jobs.ErrorExample{
				{Customer: "17", Rule: "segmentations.lifecycle.segments.churned.when", Message: "invalid operation: > (mismatched types <nil> and int)"},
			},
		},
		Samples: []jobs.SampleReport{
			{Customer: "1176", Segmentation: "lifecycle", From: "at_risk", To: "churned", Reason: "matched"},
			{Customer: "2001", Segmentation: "lifecycle", From: "", To: "active", Reason: "fallback"},
		},
		Guard: jobs.GuardReport{Blocked: true, Reasons: []string{"1420 of 20000 customers (7.1%) would change segment, more than the limit of 5.0%"}},
	}
	// Eleven moves: text shows ten and counts the rest.
	for i := range 11 {
		r.Segmentations[0].Moves = append(r.Segmentations[0].Moves, jobs.MoveReport{From: fmt.Sprintf("s%d", i), To: "churned", Count: 200 - i})
	}
	r.Segmentations[0].Moves[10].From = ""
	return r
}

func applyFixture() *jobs.PlanReport {
	return &jobs.PlanReport{
		FormatVersion: jobs.ReportFormatVersion, Mode: "apply", Status: "succeeded",
		RuleSet: "retail", RulesHash: "9f2c0a", AsOf: asOf, Initial: true,
		Customers: 2, Changed: 2,
		Segmentations: []jobs.SegmentationReport{{
			Name: "value_tier", Moved: 2,
			Segments: []jobs.SegmentReport{{Name: "vip", After: 1}, {Name: "small", After: 1}, {Name: "(removed)"}},
			Moves:    []jobs.MoveReport{{To: "vip", Count: 1}, {To: "small", Count: 1}},
		}},
		Actions: []jobs.ActionReport{},
		Errors:  jobs.ErrorReport{ByRule: map[string]int{}, Examples: []jobs.ErrorExample{}},
		Samples: []jobs.SampleReport{{Customer: "1", Segmentation: "value_tier", To: "vip", Reason: "matched"}},
	}
}

func unchangedFixture() *jobs.PlanReport {
	return &jobs.PlanReport{
		FormatVersion: jobs.ReportFormatVersion, Mode: "plan", RuleSet: "b2b", AsOf: asOf.Add(90 * time.Minute),
		Customers: 5, Segmentations: []jobs.SegmentationReport{}, Actions: []jobs.ActionReport{},
		Errors:  jobs.ErrorReport{ByRule: map[string]int{}, Examples: []jobs.ErrorExample{}},
		Samples: []jobs.SampleReport{},
	}
}

func diffFixture() *jobs.DiffReport {
	return &jobs.DiffReport{
		FormatVersion: jobs.ReportFormatVersion, Mode: "diff",
		RuleSet: "retail", RuleSetLabel: "零售客户分群", Baseline: "origin/main",
		BaselineHash: "aa11", ProposedHash: "bb22", AsOf: asOf, Initial: true,
		Customers: 20000, Differ: 678,
		Segmentations: []jobs.SegmentationDelta{
			{Name: "value_tier", Label: "客户价值等级", InBaseline: true, InProposed: true, Moved: 678,
				Changes: []jobs.MoveReport{{From: "key", To: "vip", Count: 600}, {From: "", To: "vip", Count: 78}}},
			{Name: "lifecycle", InBaseline: true, InProposed: true, Changes: []jobs.MoveReport{}},
		},
		Actions: []jobs.ActionDelta{
			{Name: "vip_care_visit", Label: "VIP 关怀拜访", Before: 1561, After: 2239, Added: 678},
			{Name: "winback_call", Before: 120, After: 120},
		},
		Rules: []jobs.RuleDelta{
			{Rule: "value_tier.vip", Before: 1561, After: 2239},
			{Rule: "value_tier.key", Before: 3000, After: 2400},
			{Rule: "lifecycle.active", Before: 9000, After: 9000},
		},
		NewErrors: jobs.ErrorReport{Customers: 1, ByRule: map[string]int{"value_tier.vip": 1},
			Examples: []jobs.ErrorExample{{Customer: "9", Rule: "value_tier.vip", Message: "a | b <c>"}}},
		Samples: []jobs.DiffSampleReport{{Customer: "1031", Segmentation: "value_tier", Before: "key", After: "vip",
			BeforeWhy: "matched key", AfterWhy: "matched vip"}},
		Limits: jobs.LimitReport{Crossed: true, Reasons: []string{"--max-moved: 678 of 20000 customers (3.39%) would be treated differently, over the limit of 1.00% by 2.39 points"}},
	}
}

var retail = &rules.RuleSet{Name: "retail", Label: "零售客户分群"}

func traceFixtures() []*engine.Trace {
	since := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	moved := &engine.Trace{
		Key: "42", AsOf: asOf,
		Segmentations: []*engine.SegmentationTrace{{
			Name: "value_tier", Label: "客户价值等级",
			Previous: engine.Assignment{Segment: "vip", Since: since},
			Tried: []engine.RuleTrace{
				{Segment: "vip", When: "spend_12m >= 50000 && orders_12m >= 6", Outcome: engine.OutcomeFalse,
					Reads: []engine.FactValue{{Name: "spend_12m", Value: 30000.0}, {Name: "orders_12m", Value: 8}}},
				{Segment: "key", When: "spend_12m >= 10000", Outcome: engine.OutcomeTrue, Reads: []engine.FactValue{{Name: "spend_12m", Value: 30000.0}}},
				{Segment: "small", Outcome: engine.OutcomeNotReached},
			},
			Decision: engine.Decision{Assignment: engine.Assignment{Segment: "vip", Since: since, PendingSince: asOf},
				Previous: "vip", Reason: engine.ReasonGrace, Matched: "key"},
			Note: "key matched, but downgrade_grace keeps the customer in vip",
		}, {
			Name: "lifecycle",
			Tried: []engine.RuleTrace{
				{Segment: "churned", When: "days_since(last_order_at) > 180 || is_null(last_order_at)", Outcome: engine.OutcomeError,
					Error: "invalid operation", Reads: []engine.FactValue{{Name: "last_order_at", Value: nil}}},
				{Segment: "active", Outcome: engine.OutcomeFallback},
			},
			Decision: engine.Decision{Assignment: engine.Assignment{Segment: "active", Since: asOf}, Reason: engine.ReasonFallback, Matched: "active"},
		}},
		Actions: []*engine.ActionTrace{{
			Name: "winback_call", Label: "挽回电话", When: `segment.lifecycle == "at_risk"`, Outcome: engine.OutcomeFired,
			Reads:  []engine.FactValue{{Name: "segment.lifecycle", Value: "at_risk"}},
			Queued: &engine.QueuedAction{Name: "winback_call", Priority: 1, Due: asOf.AddDate(0, 0, 1), Payload: map[string]any{"tier": "vip", "owner": "account_manager"}},
		}, {
			Name: "vip_care_visit", When: `previous.value_tier == "vip"`, Outcome: engine.OutcomeCooldown,
			Why: "cooldown until 2024-08-01", Reads: []engine.FactValue{{Name: "previous.value_tier", Value: "vip"}},
		}},
		Result: &engine.Result{Errors: []engine.RuleError{{Key: "42", Rule: "segmentations.lifecycle.segments.churned.when", Err: errors.New("invalid operation")}}},
	}
	fresh := &engine.Trace{
		Key: "7", AsOf: asOf.Add(36 * time.Hour),
		Segmentations: []*engine.SegmentationTrace{{
			Name:     "value_tier",
			Tried:    []engine.RuleTrace{{Segment: "small", Outcome: engine.OutcomeFallback}},
			Decision: engine.Decision{Assignment: engine.Assignment{Segment: "small", Since: asOf}, Reason: engine.ReasonFallback, Matched: "small"},
		}},
		Result: &engine.Result{},
	}
	followed := &engine.Trace{
		Key: "1031", AsOf: asOf,
		Segmentations: []*engine.SegmentationTrace{{
			Name: "value_tier", Label: "客户价值等级",
			Previous: engine.Assignment{Segment: "vip", Since: since},
			Tried:    []engine.RuleTrace{{Segment: "vip", When: "spend_12m >= 50000", Outcome: engine.OutcomeTrue, Reads: []engine.FactValue{{Name: "spend_12m", Value: 72000.0}}}},
			Decision: engine.Decision{Assignment: engine.Assignment{Segment: "vip", Since: since}, Previous: "vip", Reason: engine.ReasonMatched, Matched: "vip"},
			Coverage: engine.CoverageOverdue, DaysSinceCovered: 35,
		}, {
			Name:     "lifecycle",
			Tried:    []engine.RuleTrace{{Segment: "active", Outcome: engine.OutcomeFallback}},
			Decision: engine.Decision{Assignment: engine.Assignment{Segment: "active", Since: asOf}, Reason: engine.ReasonFallback, Matched: "active"},
			Coverage: engine.CoveragePending, DaysSinceCovered: -1,
		}},
		Actions: []*engine.ActionTrace{{
			Name: "vip_care_visit", When: "overdue.value_tier", Outcome: engine.OutcomeHeldOut,
			Why:   "in the 10% holdout group (bucket 412 of 10000, below 1000)",
			Reads: []engine.FactValue{{Name: "overdue.value_tier", Value: true}},
		}, {
			Name: "winback_call", When: `segment.lifecycle == "active"`, Outcome: engine.OutcomeSuppressed,
			Why:   "contact limit 2 per 7d reached (2 contacts since 2024-06-24)",
			Reads: []engine.FactValue{{Name: "segment.lifecycle", Value: "active"}},
		}},
		Result: &engine.Result{},
	}
	return []*engine.Trace{moved, fresh, followed}
}

func runsFixture() []kernel.Run {
	started := time.Date(2024, 7, 2, 2, 0, 0, 0, time.UTC)
	return []kernel.Run{
		{ID: 12, RuleSet: "retail", RulesHash: "9f2c0a", Kind: "scheduled", AsOf: started, Slot: ptr(started), Status: "succeeded",
			Started: started, Finished: ptr(started.Add(1234 * time.Millisecond)), Customers: 20000, Changed: 1420, Actions: 46},
		{ID: 11, RuleSet: "retail", RulesHash: "9f2c0a", Kind: "apply", AsOf: asOf, Status: "blocked",
			Started: started.Add(-time.Hour), Finished: ptr(started.Add(-time.Hour + 80*time.Millisecond)), Customers: 20000, Changed: 9000,
			Error: ptr("9000 of 20000 customers (45.0%) would change segment, more than the limit of 20.0%")},
		{ID: 10, RuleSet: "b2b", RulesHash: "77aa", Kind: "apply", AsOf: asOf, Status: "running", Started: started.Add(-2 * time.Hour)},
	}
}

func historyFixture() []kernel.HistoryEntry {
	return []kernel.HistoryEntry{
		{ID: 1, RuleSet: "retail", Segmentation: "lifecycle", To: "active", Matched: "active", Reason: "fallback", AsOf: asOf.AddDate(0, -3, 0), RunID: 1},
		{ID: 7, RuleSet: "retail", Segmentation: "lifecycle", From: ptr("active"), To: "at_risk", Matched: "at_risk", Reason: "matched", AsOf: asOf, RunID: 4},
		{ID: 9, RuleSet: "retail", Segmentation: "lifecycle", From: ptr("at_risk"), To: "", Matched: "", Reason: "left", AsOf: asOf.AddDate(0, 1, 0), RunID: 5},
	}
}

func actionsFixture() []kernel.QueuedAction {
	created := time.Date(2024, 7, 1, 2, 0, 3, 0, time.UTC)
	return []kernel.QueuedAction{
		{ID: 3, RuleSet: "retail", Action: "winback_call", Customer: "42", Payload: json.RawMessage(`{"owner":"account_manager","tier":"vip"}`),
			Priority: 1, Status: "pending", CreatedAt: created, DueAt: asOf.AddDate(0, 0, 1), RunID: 4, Idempotent: "retail:winback_call:42:2024-07-01"},
		{ID: 2, RuleSet: "retail", Action: "onboarding_message", Customer: "7", Payload: json.RawMessage(`{}`),
			Priority: 5, Status: "failed", CreatedAt: created, DueAt: asOf.Add(30 * time.Minute), Attempts: 3, LastError: ptr("mail server said 550, \"no such user\""),
			RunID: 4, Idempotent: "retail:onboarding_message:7:2024-07-01"},
	}
}

// qualityFixture is a report of two sources, with duplicates kept by
// on_duplicate: last, customers who left, and one failed check.
func qualityFixture() *jobs.QualityReport {
	return &jobs.QualityReport{
		Failed: true,
		Sources: []jobs.SourceQuality{
			{Name: "primary", Rows: 20003, Customers: 20000, Duplicates: 3, DuplicateKeys: []string{"17", "42", "99"}, OnDuplicate: "last"},
			{Name: "consent", Rows: 18012, Customers: 18000, OnDuplicate: "error", Unmatched: 12, Newest: "2024-06-30T00:00:00Z"},
		},
		Facts: []jobs.FactQuality{
			{Name: "spend_12m", Source: "primary", Invalid: 2, Violations: 1},
			{Name: "marketing_consent", Source: "consent", Nulls: 2000},
		},
		Absent: 40, Left: 40,
		Checks: []jobs.CheckResult{
			{Check: "facts.spend_12m.values", Count: 1, Message: "1 of 20,000 customers break the checks declared on spend_12m (min 0)",
				Examples: []string{"customer 42: -5 is below min 0"}},
			{Check: "sources.primary.duplicates", Passed: true, Count: 3, Message: `3 rows repeat a customer key ("17", "42", "99"); on_duplicate: last keeps the last`,
				Examples: []string{"17", "42", "99"}},
			{Check: "sources.consent.fresh_within", Passed: true, Count: 1,
				Message: "the newest file is 2024-06-30T00:00:00Z, 1d before the as-of time 2024-07-01T00:00:00Z; fresh_within is 2d"},
		},
	}
}

// qualityPlanFixture is a plan whose failed check the guard refuses,
// with customers who left the source (a move to no segment).
func qualityPlanFixture() *jobs.PlanReport {
	r := applyFixture()
	r.Mode, r.Status, r.Initial = "plan", "", false
	r.Customers, r.Changed = 20040, 41
	r.Segmentations[0].Moved = 41
	r.Segmentations[0].Moves = []jobs.MoveReport{{From: "vip", To: "", Count: 40}, {From: "small", To: "vip", Count: 1}}
	r.Samples = []jobs.SampleReport{{Customer: "5", Segmentation: "value_tier", From: "vip", Reason: "left"}}
	r.Quality = qualityFixture()
	r.Guard = jobs.GuardReport{Blocked: true, Reasons: []string{
		"data-quality check facts.spend_12m.values: 1 of 20,000 customers break the checks declared on spend_12m (min 0); rerun with --allow-failed-checks if the data is right",
	}}
	return r
}

// qualityAllowedFixture is an apply that --allow-failed-checks let
// through.
func qualityAllowedFixture() *jobs.PlanReport {
	r := qualityPlanFixture()
	r.Mode, r.Status = "apply", "succeeded"
	r.Guard = jobs.GuardReport{}
	return r
}

// followUpFixture is an apply of a rule set with holdouts, contact limits
// and coverage targets.
func followUpFixture() *jobs.PlanReport {
	r := applyFixture()
	r.Initial = false
	r.RuleSetLabel = "零售客户分群"
	r.ActionsTotal = 412
	r.Actions = []jobs.ActionReport{
		{Name: "vip_care_visit", Label: "VIP 关怀拜访", Count: 360, HeldOut: 40},
		{Name: "winback_call", Count: 52, HeldOut: 6, Suppressed: 1234},
		{Name: "onboarding_message", Count: 0},
	}
	r.Coverage = coverageFixture()[0].Coverage
	return r
}

func coverageFixture() []CoverageRun {
	return []CoverageRun{
		{RuleSet: "retail", RuleSetLabel: "零售客户分群", RunID: 12, AsOf: asOf, Coverage: []jobs.CoverageReport{
			{Segmentation: "value_tier", Segment: "vip", Label: "VIP 客户", EveryDays: 28, By: []string{"vip_care_visit"},
				Counts: []string{"reached", "converted"}, Due: 1200, Covered: 850, Pending: 100, Overdue: 250, Share: 850.0 / 1200},
			{Segmentation: "value_tier", Segment: "key", EveryDays: 90, By: []string{"vip_care_visit", "winback_call"},
				Counts: []string{"reached"}, Due: 0},
		}},
		{RuleSet: "b2b", RunID: 9, AsOf: asOf},
		{RuleSet: "churn"},
	}
}

// methodFixture is jobs.EffectsMethod when these were written: the
// golden files do not change with it.
const methodFixture = "95% Newcombe hybrid score interval (Newcombe 1998, method 10) of the difference of two proportions"

func effectsFixture() []*jobs.EffectsReport {
	from := asOf.AddDate(0, -3, 0)
	return []*jobs.EffectsReport{{
		RuleSet: "retail", From: from, Until: asOf, Latest: asOf, Churn: "lifecycle.churned",
		Method: methodFixture, Horizons: []int{30, 60, 90}, MinGroup: 30,
		Effects: []jobs.TreatmentEffect{
			{Action: "winback_call", Segmentation: "lifecycle", Segment: "at_risk", Horizon: 30, Treated: 400, HeldOut: 45,
				Stayed:     jobs.Comparison{TreatedCount: 300, HeldOutCount: 27, Treated: 0.75, HeldOut: 0.6, Diff: 0.15, Low: 0.01, High: 0.29},
				Churned:    jobs.Comparison{TreatedCount: 48, HeldOutCount: 9, Treated: 0.12, HeldOut: 0.2, Diff: -0.08, Low: -0.199, High: 0.039},
				MovedUp:    jobs.Comparison{TreatedCount: 52, HeldOutCount: 9, Treated: 0.13, HeldOut: 0.2, Diff: -0.07},
				Conclusive: true, Cost: 5000, KeptPerCost: 0.0064},
			{Action: "winback_call", Segmentation: "lifecycle", Segment: "at_risk", Horizon: 60, Treated: 120, HeldOut: 12,
				Churned: jobs.Comparison{TreatedCount: 18, HeldOutCount: 3, Treated: 0.15, HeldOut: 0.25, Diff: -0.1, Low: -0.37, High: 0.06},
				Note:    "too small to conclude: 120 treated, 12 held out; need 30 in each", Cost: 1500},
		},
		Costs: []jobs.ClassCost{
			{Action: "winback_call", Segmentation: "lifecycle", Segment: "at_risk", Queued: 400, UnitCost: 12.5, Cost: 5000},
			{Action: "vip_care_visit", Segmentation: "value_tier", Segment: "vip", Queued: 1210, UnitCost: 80, Cost: 96800},
		},
	}, {
		RuleSet: "b2b", From: from, Until: asOf, Latest: asOf, Method: methodFixture, Horizons: []int{90}, MinGroup: 30,
		Effects: []jobs.TreatmentEffect{{Action: "account_review", Segmentation: "tier", Segment: "key", Horizon: 90, Treated: 31, HeldOut: 30,
			Stayed: jobs.Comparison{Treated: 0.9, HeldOut: 0.8, Diff: 0.1, Low: -0.07, High: 0.27}, Conclusive: true}},
	}}
}

// emptyEffectsFixture is a rule set with no holdout and no cost, before
// any run.
func emptyEffectsFixture() []*jobs.EffectsReport {
	return []*jobs.EffectsReport{{RuleSet: "retail", From: asOf.AddDate(0, -3, 0), Until: asOf, Method: methodFixture, Horizons: []int{30, 60, 90}, MinGroup: 30}}
}
