package main

import (
	"context"

	"github.com/tierflow/tierflow/internal/views"
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

Examples:
  tierflow runs
  tierflow runs --ruleset retail --limit 50
  tierflow runs --format csv > runs.csv
  tierflow runs --format json                  # docs/output.md
`

func runRuns(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("runs", runsUsage)
	configPath := fs.String("config", "", "config `file` (default ./tierflow.yaml)")
	ruleset := fs.String("ruleset", "", "only this rule set")
	limit := fs.Int("limit", 20, "at most this many runs")
	ff := addFormatFlag(fs, "text, json (docs/output.md), markdown or csv")
	if _, code, ok := a.parse(fs, args); !ok {
		return code
	}
	v, err := pickView(ff, a.stdout, views.NewTable)
	if err != nil {
		return a.errorf("runs: %v", err)
	}
	store, err := a.openStore(ctx, *configPath)
	if err != nil {
		return a.errorf("runs: %v", err)
	}
	defer store.Close()
	runs, err := store.Runs(ctx, *ruleset, *limit)
	if err != nil {
		return a.errorf("runs: %v", err)
	}
	if err := v.Runs(runs); err != nil {
		return a.errorf("runs: %v", err)
	}
	return exitOK
}
