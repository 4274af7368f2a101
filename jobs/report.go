package jobs

import (
	"sort"
	"time"

	"github.com/tierflow/tierflow/engine"
)

// ReportFormatVersion is the version of the PlanReport JSON schema
// (docs/plan-json.md). It changes only when a field changes meaning or
// is removed; new fields may appear in any version.
const ReportFormatVersion = 1

// PlanReport is a plan in the shape tierflow prints and stores: stable,
// documented JSON for machines, and the source of the terminal text.
type PlanReport struct {
	FormatVersion int                  `json:"format_version"`
	Mode          string               `json:"mode"` // "plan" or "apply"
	Status        string               `json:"status,omitempty"`
	RuleSet       string               `json:"ruleset"`
	RuleSetLabel  string               `json:"ruleset_label,omitempty"`
	RulesHash     string               `json:"rules_hash"`
	AsOf          time.Time            `json:"as_of"`
	Initial       bool                 `json:"initial"`
	Customers     int                  `json:"customers"`
	Changed       int                  `json:"changed"`
	ActionsTotal  int                  `json:"actions_total"`
	Segmentations []SegmentationReport `json:"segmentations"`
	Actions       []ActionReport       `json:"actions"`
	Errors        ErrorReport          `json:"errors"`
	Samples       []SampleReport       `json:"samples"`
	Guard         GuardReport          `json:"guard"`
	// Quality is what the pass found out about the facts: sources,
	// duplicates, absent customers and declared checks.
	Quality *QualityReport `json:"quality,omitempty"`
	// Coverage is each coverage target's standing after the run, in file
	// order of the segments that declare one; absent when none does.
	Coverage []CoverageReport `json:"coverage,omitempty"`
	// Derived is how the run computed its derived facts: the population
	// columns and the fits of the predicted facts' models; absent for a
	// rule set without derived facts.
	Derived *DerivedReport `json:"derived,omitempty"`
	// Incremental is what the customers' marks say: how many an
	// incremental run would evaluate, and the drift check.
	Incremental *IncrementalReport `json:"incremental,omitempty"`
	// Shard is the shard of a sharded apply ("2/4"); absent for a run
	// of every customer.
	Shard string `json:"shard,omitempty"`
}

// CoverageReport is one segment's coverage (覆盖率) after a run: of the
// Due customers in the segment, Covered had a covering outcome within
// the target's window, Pending are new to the segment (or to their last
// coverage) for less than it, Overdue neither.
type CoverageReport struct {
	Segmentation string `json:"segmentation"`
	Segment      string `json:"segment"`
	Label        string `json:"label,omitempty"`
	// EveryDays is the target's window in days; By and Counts its
	// actions and outcomes.
	EveryDays int      `json:"every_days"`
	By        []string `json:"by"`
	Counts    []string `json:"counts"`
	Due       int      `json:"due"`
	Covered   int      `json:"covered"`
	Pending   int      `json:"pending"`
	Overdue   int      `json:"overdue"`
	// Share is Covered / Due, 0 when Due is 0.
	Share float64 `json:"share"`
}

// SegmentationReport is one segmentation's moves and segment sizes.
type SegmentationReport struct {
	Name     string          `json:"name"`
	Label    string          `json:"label,omitempty"`
	Moved    int             `json:"moved"`
	Segments []SegmentReport `json:"segments"`
	Moves    []MoveReport    `json:"moves"`
}

// SegmentReport is one segment's size before and after the run.
type SegmentReport struct {
	Name   string `json:"name"`
	Label  string `json:"label,omitempty"`
	Before int    `json:"before"`
	After  int    `json:"after"`
	// Churned counts the customers of the segment (before the run) who
	// entered the rule set's churn segment in the run; absent when the
	// rule set declares no churn (rules.RuleSet.Churn).
	Churned *int `json:"churned,omitempty"`
}

// MoveReport counts customers moving from one segment to another; an
// empty From means customers with no segment yet.
type MoveReport struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count int    `json:"count"`
}

// ActionReport counts one action's queued items, and those withheld:
// held out (its holdout group) or suppressed (a contact limit).
type ActionReport struct {
	Name       string `json:"name"`
	Label      string `json:"label,omitempty"`
	Count      int    `json:"count"`
	HeldOut    int    `json:"held_out"`
	Suppressed int    `json:"suppressed"`
}

// ErrorReport summarises rule errors.
type ErrorReport struct {
	Customers int            `json:"customers"`
	ByRule    map[string]int `json:"by_rule"`
	Examples  []ErrorExample `json:"examples"`
}

// ErrorExample is one customer's rule error.
type ErrorExample struct {
	Customer string `json:"customer"`
	Rule     string `json:"rule"`
	Message  string `json:"message"`
}

// SampleReport is one customer who moves.
type SampleReport struct {
	Customer     string `json:"customer"`
	Segmentation string `json:"segmentation"`
	From         string `json:"from"`
	To           string `json:"to"`
	Reason       string `json:"reason"`
}

// NewPlanReport converts an engine plan into a report.
func NewPlanReport(p *engine.Plan, mode string, asOf time.Time, initial bool) *PlanReport {
	rs := p.RuleSet
	r := &PlanReport{
		FormatVersion: ReportFormatVersion,
		Mode:          mode,
		RuleSet:       rs.Name,
		RuleSetLabel:  rs.Label,
		RulesHash:     rs.Hash,
		AsOf:          asOf,
		Initial:       initial,
		Customers:     p.Customers,
		Changed:       p.Changed,
		ActionsTotal:  p.TotalActions(),
		Errors:        ErrorReport{Customers: p.Errors, ByRule: p.ErrorsByRule, Examples: []ErrorExample{}},
		Samples:       []SampleReport{},
	}
	for i, sp := range p.Segmentations {
		s := rs.Segmentations[i]
		sr := SegmentationReport{Name: sp.Name, Label: sp.Label, Moved: sp.Moved(), Moves: []MoveReport{}}
		for k, seg := range s.Segments {
			seg := SegmentReport{Name: seg.Name, Label: seg.Label, Before: sp.Before[k+1], After: sp.After[k+1]}
			if sp.Churned != nil {
				n := sp.Churned[k+1]
				seg.Churned = &n
			}
			sr.Segments = append(sr.Segments, seg)
		}
		if n := sp.Before[len(sp.Before)-1]; n > 0 {
			sr.Segments = append(sr.Segments, SegmentReport{Name: "(removed)", Before: n})
		}
		for _, m := range sp.MovesList() {
			sr.Moves = append(sr.Moves, MoveReport(m))
		}
		r.Segmentations = append(r.Segmentations, sr)
	}
	for i, a := range rs.Actions {
		r.Actions = append(r.Actions, ActionReport{Name: a.Name, Label: a.Label, Count: p.Actions[i], HeldOut: p.HeldOut[i], Suppressed: p.Suppressed[i]})
	}
	r.Coverage = coverageReports(p)
	for _, e := range p.ErrorExamples {
		r.Errors.Examples = append(r.Errors.Examples, ErrorExample{Customer: e.Key, Rule: e.Rule, Message: e.Message()})
	}
	for _, s := range p.Samples {
		r.Samples = append(r.Samples, SampleReport{Customer: s.Key, Segmentation: s.Segmentation, From: s.From, To: s.To, Reason: s.Reason.String()})
	}
	sort.SliceStable(r.Samples, func(i, j int) bool { return r.Samples[i].Customer < r.Samples[j].Customer })
	return r
}

// HasChanges reports whether the plan would change anything.
func (r *PlanReport) HasChanges() bool { return r.Changed > 0 || r.ActionsTotal > 0 }

// coverageReports counts each coverage target's customers by state.
func coverageReports(p *engine.Plan) []CoverageReport {
	var out []CoverageReport
	for i, s := range p.RuleSet.Segmentations {
		sp := p.Segmentations[i]
		for k, seg := range s.Segments {
			cov := seg.Coverage
			if cov == nil {
				continue
			}
			c := sp.Coverage[k+1]
			cr := CoverageReport{Segmentation: s.Name, Segment: seg.Name, Label: seg.Label,
				EveryDays: int(cov.Every / (24 * time.Hour)), By: cov.By, Counts: cov.Counts,
				Due: sp.After[k+1], Covered: c[engine.CoverageCovered], Pending: c[engine.CoveragePending], Overdue: c[engine.CoverageOverdue]}
			if cr.Due > 0 {
				cr.Share = float64(cr.Covered) / float64(cr.Due)
			}
			out = append(out, cr)
		}
	}
	return out
}
