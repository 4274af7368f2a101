package main

import (
	"context"

	"github.com/tierflow/tierflow/internal/report"
	"github.com/tierflow/tierflow/jobs"
)

// reportFits reads, for the HTML report, the fits of the models of each
// report's rule set at its period's runs; rule sets without predicted
// facts have none.
func reportFits(ctx context.Context, src jobs.ReportSource, reps []*jobs.ClassReport) ([]report.RuleSetFits, error) {
	var out []report.RuleSetFits
	for _, rep := range reps {
		runs, err := jobs.RunFits(ctx, src, rep.RuleSet, rep.From, rep.Until)
		if err != nil {
			return nil, err
		}
		if len(runs) > 0 {
			out = append(out, report.RuleSetFits{RuleSet: rep.RuleSet, Runs: runs})
		}
	}
	return out, nil
}
