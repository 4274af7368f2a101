package main

import (
	"context"
	"fmt"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

const runsUsage = `
Usage: tierflow runs [flags]

Lists recent runs, newest first: rule set, kind (apply, scheduled,
sharded), the scheduled slot, status, duration, customers evaluated,
customers who changed segment, actions queued, rule errors, and the
error of a run that did not apply.

Statuses: succeeded (applied), blocked (a guard refused; nothing
written), failed (an error; nothing written), skipped (another run held
the lock or took the slot), missed (no replica ran the slot within the
starting deadline), cancelled (stopped by shutdown; nothing written, and
its slot runs again), abandoned (the process died mid-run; nothing
written), running. A sharded apply (apply --shard) lists each shard's
run (kind "apply 2/4") and their parent ("sharded:4"): running until its
last shard commits, then succeeded, or flagged when the shards' totals
are over a guard's limit (their writes stand).

A run of a rule set with predicted facts (docs/rules.md) shows, under
it, each model's fit: its parameters, log-likelihood, customers and
iterations, and whether it converged (a fit that does not converge fails
the run, with the fit in its error); json carries the whole report of
the run's derived facts.

--segments adds, under each succeeded run, how many customers each
segment held after it, as the run recorded it; json and csv always carry
them (tierflow sizes shows them as a table over time).

Examples:
  tierflow runs
  tierflow runs --ruleset retail --limit 50
  tierflow runs --segments                     # class sizes after each run
  tierflow runs --format csv > runs.csv
  tierflow runs --format json                  # docs/output.md
`

func runRuns(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("runs", runsUsage)
	configPath := fs.String("config", "", "config `file` (default ./tierflow.yaml)")
	ruleset := fs.String("ruleset", "", "only this rule set")
	limit := fs.Int("limit", 20, "at most this many runs")
	segments := fs.Bool("segments", false, "show each segment's customers after every succeeded run (json and csv always have them)")
	ff := addFormatFlag(fs, "text, json (docs/output.md), markdown or csv")
	if _, code, ok := a.parse(fs, args); !ok {
		return code
	}
	v, err := pickView(ff, a.stdout, views.NewTable)
	if err != nil {
		return a.errorf("runs: %v", err)
	}
	format, _ := ff.name() // pickView has checked it
	withSegments := *segments || format == "json" || format == "csv"
	store, err := a.openStore(ctx, *configPath)
	if err != nil {
		return a.errorf("runs: %v", err)
	}
	defer store.Close()
	runs, err := store.Runs(ctx, *ruleset, *limit)
	if err != nil {
		return a.errorf("runs: %v", err)
	}
	sizes, derived, err := runDetails(ctx, store, runs, withSegments, *segments)
	if err != nil {
		return a.errorf("runs: %s", store.Redact(err.Error()))
	}
	if dv, ok := v.(views.RunsDerived); ok && len(derived) > 0 {
		err = dv.RunsDerived(runs, sizes, derived)
	} else {
		err = v.Runs(runs, sizes)
	}
	if err != nil {
		return a.errorf("runs: %v", err)
	}
	return exitOK
}

// runDetails reads the report stored with each succeeded run of runs,
// once: its class sizes (when withSegments) and, for the runs that
// derived facts, how (the fits of their predicted facts' models). A
// store that keeps no reports has neither: an error when the sizes were
// asked for (required), nothing otherwise.
func runDetails(ctx context.Context, store stateStore, runs []kernel.Run, withSegments, required bool) (views.RunSegments, views.RunDerived, error) {
	reports, ok := store.(runReportReader)
	if !ok {
		if required {
			return nil, nil, fmt.Errorf("--segments: %w", errNoRunReports)
		}
		return nil, nil, nil
	}
	var sizes views.RunSegments
	if withSegments {
		sizes = views.RunSegments{}
	}
	derived := views.RunDerived{}
	for _, r := range runs {
		if r.Status != string(jobs.StatusSucceeded) {
			continue
		}
		_, rep, ok, err := reports.RunReport(ctx, r.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("read run %d: %w", r.ID, err)
		}
		if !ok || rep == nil {
			continue
		}
		if withSegments {
			sizes[r.ID] = rep.Segmentations
		}
		if rep.Derived != nil {
			derived[r.ID] = rep.Derived
		}
	}
	return sizes, derived, nil
}
