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

Lists recent runs, newest first: rule set, kind (apply, scheduled), the
scheduled slot, status, duration, customers evaluated, customers who
changed segment, actions queued, rule errors, and the error of a run that
did not apply.

Statuses: succeeded (applied), blocked (a guard refused; nothing
written), failed (an error; nothing written), skipped (another run held
the lock or took the slot), missed (no replica ran the slot within the
starting deadline), cancelled (stopped by shutdown; nothing written, and
its slot runs again), abandoned (the process died mid-run; nothing
written), running.

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
	var sizes views.RunSegments
	if withSegments {
		if sizes, err = runSegments(ctx, store, runs, *segments); err != nil {
			return a.errorf("runs: %s", store.Redact(err.Error()))
		}
	}
	if err := v.Runs(runs, sizes); err != nil {
		return a.errorf("runs: %v", err)
	}
	return exitOK
}

// runSegments reads the class sizes each succeeded run of runs recorded
// with it. A store that keeps no reports has none: an error when they
// were asked for (required), none otherwise.
func runSegments(ctx context.Context, store stateStore, runs []kernel.Run, required bool) (views.RunSegments, error) {
	reports, ok := store.(runReportReader)
	if !ok {
		if required {
			return nil, fmt.Errorf("--segments: %w", errNoRunReports)
		}
		return nil, nil
	}
	out := views.RunSegments{}
	for _, r := range runs {
		if r.Status != string(jobs.StatusSucceeded) {
			continue
		}
		_, rep, ok, err := reports.RunReport(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("read run %d: %w", r.ID, err)
		}
		if ok && rep != nil {
			out[r.ID] = rep.Segmentations
		}
	}
	return out, nil
}
