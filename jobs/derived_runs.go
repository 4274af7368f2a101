package jobs

import (
	"context"
	"time"

	"github.com/tierflow/tierflow/internal/predict"
)

// RunFit is one model's fit at one run, for reports: the diagnostics the
// run recorded with its derived facts (DerivedReport.Models).
type RunFit struct {
	RunID int64     `json:"run_id"`
	AsOf  time.Time `json:"as_of"`
	predict.FitReport
}

// RunFits reads the fits of the models of a rule set's predicted facts
// that the runs of [from, until] recorded, by as-of (as RunRecords gives
// them); none for a rule set without predicted facts.
func RunFits(ctx context.Context, src ReportSource, ruleset string, from, until time.Time) ([]RunFit, error) {
	var out []RunFit
	err := src.RunRecords(ctx, ruleset, from, until, func(r *RunRecord) error {
		if r.Report == nil || r.Report.Derived == nil {
			return nil
		}
		for _, m := range r.Report.Derived.Models {
			out = append(out, RunFit{RunID: r.ID, AsOf: r.AsOf, FitReport: m})
		}
		return nil
	})
	return out, err
}
