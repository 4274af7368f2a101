package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// savedPlan is what plan --out writes and apply FILE reads: the plan's
// reports, one per rule set, in the JSON of docs/plan-json.md.
type savedPlan struct {
	FormatVersion int                `json:"format_version"`
	Plans         []*jobs.PlanReport `json:"plans"`
}

// savedPlanVersion is the version of a saved plan file.
const savedPlanVersion = 1

// writeSavedPlan writes the plans to path, replacing it whole: a reader
// never sees half a file.
func writeSavedPlan(path string, plans []*jobs.PlanReport) error {
	b, err := json.MarshalIndent(savedPlan{FormatVersion: savedPlanVersion, Plans: plans}, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readSavedPlan reads a file plan --out wrote.
func readSavedPlan(path string) (*savedPlan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p savedPlan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s is not a plan tierflow plan --out wrote: %w", path, err)
	}
	if p.FormatVersion != savedPlanVersion || len(p.Plans) == 0 {
		return nil, fmt.Errorf("%s is not a plan tierflow plan --out wrote (format_version %d, %d plans)", path, p.FormatVersion, len(p.Plans))
	}
	return &p, nil
}

// errPlanDiffers is the reason an apply FILE refuses.
var errPlanDiffers = errors.New("the apply would not do what the saved plan showed")

// sameAsPlan returns the check apply FILE runs on an apply's report
// before it writes: the rules, the as-of and every count of the saved
// plan must be the same, so that what a reviewer approved is what is
// applied.
func sameAsPlan(saved *jobs.PlanReport) func(*jobs.PlanReport) error {
	return func(got *jobs.PlanReport) error {
		differs := func(what string, planned, now any) error {
			return fmt.Errorf("%w: %s was %v in the plan and is %v now; run tierflow plan --out again and review it", errPlanDiffers, what, planned, now)
		}
		switch {
		case got.RulesHash != saved.RulesHash:
			return differs("the rules' hash", short(saved.RulesHash), short(got.RulesHash))
		case !got.AsOf.Equal(saved.AsOf):
			return differs("the as-of", saved.AsOf.Format(time.RFC3339), got.AsOf.Format(time.RFC3339))
		case got.Customers != saved.Customers:
			return differs("the number of customers", saved.Customers, got.Customers)
		case got.Changed != saved.Changed:
			return differs("the number of customers who change", saved.Changed, got.Changed)
		case got.ActionsTotal != saved.ActionsTotal:
			return differs("the number of actions to queue", saved.ActionsTotal, got.ActionsTotal)
		case len(got.Segmentations) != len(saved.Segmentations):
			return differs("the number of segmentations", len(saved.Segmentations), len(got.Segmentations))
		}
		for i, s := range saved.Segmentations {
			g := got.Segmentations[i]
			if moves(s) != moves(g) {
				return differs("the moves in "+s.Name, moves(s), moves(g))
			}
		}
		for i, a := range saved.Actions {
			if i < len(got.Actions) && got.Actions[i].Count != a.Count {
				return differs("the number of "+a.Name+" to queue", a.Count, got.Actions[i].Count)
			}
		}
		return nil
	}
}

// moves writes a segmentation's move matrix as text, for comparing.
func moves(s jobs.SegmentationReport) string {
	out := fmt.Sprint(s.Moved)
	for _, m := range s.Moves {
		out += fmt.Sprintf("; %s->%s %d", m.From, m.To, m.Count)
	}
	return out
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// savedSets keeps of the configured rule sets those the saved plan has
// a report of: all of them must be configured.
func savedSets(saved *savedPlan, sets []configured) ([]configured, error) {
	var out []configured
	for _, p := range saved.Plans {
		found := false
		for _, set := range sets {
			if set.rs.Name == p.RuleSet {
				out = append(out, set)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("the plan is of rule set %q, which this config does not run (or --ruleset leaves out)", p.RuleSet)
		}
	}
	return out, nil
}

// savedFor is the saved plan's report of the rule set called name.
func savedFor(saved *savedPlan, name string) *jobs.PlanReport {
	for _, p := range saved.Plans {
		if p.RuleSet == name {
			return p
		}
	}
	return nil
}
