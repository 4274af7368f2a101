package main

import (
	"context"
	"fmt"
	"time"
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
starting deadline), abandoned (the process died mid-run; nothing
written), running.

Examples:
  tierflow runs
  tierflow runs --ruleset retail --limit 50
  tierflow runs --json
`

func runRuns(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("runs", runsUsage)
	configPath := fs.String("config", "", "config `file` (default ./tierflow.yaml)")
	ruleset := fs.String("ruleset", "", "only this rule set")
	limit := fs.Int("limit", 20, "at most this many runs")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := a.parse(fs, args); !ok {
		return code
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
	if *asJSON {
		return a.writeJSON(runs)
	}
	if len(runs) == 0 {
		fmt.Fprintln(a.stdout, "no runs yet")
		return exitOK
	}
	fmt.Fprintf(a.stdout, "%-6s %-12s %-10s %-17s %-10s %9s %10s %9s %8s %7s  %s\n",
		"run", "ruleset", "kind", "slot / as-of", "status", "took", "customers", "changed", "actions", "errors", "error")
	for _, r := range runs {
		when := r.AsOf
		if r.Slot != nil {
			when = *r.Slot
		}
		took := "-"
		if r.Finished != nil {
			took = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
		}
		msg := ""
		if r.Error != nil {
			msg = *r.Error
		}
		fmt.Fprintf(a.stdout, "%-6d %-12s %-10s %-17s %-10s %9s %10s %9s %8s %7s  %s\n",
			r.ID, r.RuleSet, r.Kind, when.UTC().Format("2006-01-02 15:04"), r.Status, took,
			thousands(int(r.Customers)), thousands(int(r.Changed)), thousands(int(r.Actions)), thousands(int(r.Errors)), msg)
	}
	return exitOK
}
