package jobs

import (
	"fmt"
	"sort"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// DiffReport is a rule-change preview: what the proposed rules would do
// differently from the baseline on the same customers. Its JSON schema is
// documented in docs/ci.md and versioned like PlanReport's.
type DiffReport struct {
	FormatVersion int    `json:"format_version"`
	Mode          string `json:"mode"` // "diff"
	RuleSet       string `json:"ruleset"`
	RuleSetLabel  string `json:"ruleset_label,omitempty"`
	// Baseline names what the proposed rules were compared with (a git
	// revision or a directory); set by the caller.
	Baseline     string    `json:"baseline"`
	BaselineHash string    `json:"baseline_hash,omitempty"`
	ProposedHash string    `json:"proposed_hash"`
	NewRuleSet   bool      `json:"new_ruleset"`
	AsOf         time.Time `json:"as_of"`
	// Initial is true when the facts carry no previous state (a facts
	// file, or a rule set never applied): transitions are then measured
	// from "no segment" on both sides.
	Initial       bool                `json:"initial"`
	Customers     int                 `json:"customers"`
	Differ        int                 `json:"differ"`
	Segmentations []SegmentationDelta `json:"segmentations"`
	Actions       []ActionDelta       `json:"actions"`
	Rules         []RuleDelta         `json:"rules"`
	NewErrors     ErrorReport         `json:"new_errors"`
	Samples       []DiffSampleReport  `json:"samples"`
	Limits        LimitReport         `json:"limits"`
	// Quality is what the pass found out about the facts (warnings of
	// stale facts, failed checks); a preview reports it without refusing.
	Quality *QualityReport `json:"quality,omitempty"`
}

// SegmentationDelta lists customers classified differently in one
// segmentation, by baseline and proposed segment.
type SegmentationDelta struct {
	Name       string       `json:"name"`
	Label      string       `json:"label,omitempty"`
	InBaseline bool         `json:"in_baseline"`
	InProposed bool         `json:"in_proposed"`
	Moved      int          `json:"moved"`
	Changes    []MoveReport `json:"changes"` // from = baseline segment, to = proposed
}

// ActionDelta compares one action's queue between the two sides.
type ActionDelta struct {
	Name    string `json:"name"`
	Label   string `json:"label,omitempty"`
	Before  int    `json:"before"`
	After   int    `json:"after"`
	Added   int    `json:"added"`
	Removed int    `json:"removed"`
}

// RuleDelta counts the customers one rule matched on each side.
type RuleDelta struct {
	Rule   string `json:"rule"`
	Before int    `json:"before"`
	After  int    `json:"after"`
}

// DiffSampleReport is one customer classified differently, with a short
// explanation of each side.
type DiffSampleReport struct {
	Customer     string `json:"customer"`
	Segmentation string `json:"segmentation"`
	Before       string `json:"before"`
	After        string `json:"after"`
	BeforeWhy    string `json:"before_why"`
	AfterWhy     string `json:"after_why"`
}

// LimitReport says whether a preview crossed --max-moved or --max-actions.
type LimitReport struct {
	Crossed bool     `json:"crossed"`
	Reasons []string `json:"reasons,omitempty"`
}

// HasEffect reports whether the rule change changes anything.
func (r *DiffReport) HasEffect() bool {
	return r.Differ > 0 || r.NewRuleSet || len(r.NewErrors.ByRule) > 0
}

// NewDiffReport converts an engine diff into a report.
func NewDiffReport(d *engine.Diff, asOf time.Time) *DiffReport {
	p := d.Proposed
	r := &DiffReport{
		FormatVersion: ReportFormatVersion, Mode: "diff",
		RuleSet: p.Name, RuleSetLabel: p.Label, ProposedHash: p.Hash,
		NewRuleSet: d.Baseline == nil, AsOf: asOf,
		Customers: d.Customers, Differ: d.Differ,
		NewErrors: ErrorReport{Customers: 0, ByRule: d.NewErrors, Examples: []ErrorExample{}},
		Samples:   []DiffSampleReport{},
	}
	if d.Baseline != nil {
		r.BaselineHash = d.Baseline.Hash
	}
	for _, n := range d.NewErrors {
		r.NewErrors.Customers += n
	}
	for _, e := range d.NewErrorExamples {
		r.NewErrors.Examples = append(r.NewErrors.Examples, ErrorExample{Customer: e.Key, Rule: e.Rule, Message: e.Message()})
	}
	for _, sd := range d.Segmentations {
		sr := SegmentationDelta{Name: sd.Name, Label: sd.Label, InBaseline: sd.InBaseline, InProposed: sd.InProposed, Moved: sd.Moved(), Changes: []MoveReport{}}
		for _, m := range sd.ChangesList() {
			sr.Changes = append(sr.Changes, MoveReport(m))
		}
		r.Segmentations = append(r.Segmentations, sr)
	}
	names := map[string]string{}
	for _, a := range p.Actions {
		names[a.Name] = a.Label
	}
	if d.Baseline != nil {
		for _, a := range d.Baseline.Actions {
			if _, ok := names[a.Name]; !ok {
				names[a.Name] = a.Label
			}
		}
	}
	for name, label := range names {
		r.Actions = append(r.Actions, ActionDelta{
			Name: name, Label: label,
			Before: d.MatchesBefore["actions."+name], After: d.MatchesAfter["actions."+name],
			Added: d.ActionsAdded[name], Removed: d.ActionsRemoved[name],
		})
	}
	sort.Slice(r.Actions, func(i, j int) bool { return r.Actions[i].Name < r.Actions[j].Name })
	rulesSeen := map[string]bool{}
	for k := range d.MatchesBefore {
		rulesSeen[k] = true
	}
	for k := range d.MatchesAfter {
		rulesSeen[k] = true
	}
	for _, k := range ruleOrder(d) {
		if rulesSeen[k] {
			r.Rules = append(r.Rules, RuleDelta{Rule: k, Before: d.MatchesBefore[k], After: d.MatchesAfter[k]})
			delete(rulesSeen, k)
		}
	}
	for _, s := range d.Samples {
		r.Samples = append(r.Samples, DiffSampleReport{
			Customer: s.Key, Segmentation: s.Segmentation,
			Before: s.Before.Segment, After: s.After.Segment,
			BeforeWhy: why(s.Before), AfterWhy: why(s.After),
		})
	}
	return r
}

// ruleOrder lists rule keys in file order: segments of the proposed then
// the baseline rules, then actions of each.
func ruleOrder(d *engine.Diff) []string {
	var out []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sides := []*rules.RuleSet{d.Proposed}
	if d.Baseline != nil {
		sides = append(sides, d.Baseline)
	}
	for _, set := range sides {
		for _, s := range set.Segmentations {
			for _, seg := range s.Segments {
				add(s.Name + "." + seg.Name)
			}
		}
	}
	for _, set := range sides {
		for _, a := range set.Actions {
			add("actions." + a.Name)
		}
	}
	return out
}

// why explains one side's decision in a few words.
func why(d engine.Decision) string {
	switch d.Reason {
	case 0:
		return "not defined"
	case engine.ReasonMatched:
		return "matched " + d.Matched
	case engine.ReasonFallback:
		return "fallback"
	case engine.ReasonError:
		return "rule error; previous segment kept"
	}
	return fmt.Sprintf("kept %s by %s (%s matched)", d.Segment, d.Reason, d.Matched)
}
