package main

import (
	"context"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs/kernel"
)

const actionsUsage = `
Usage: tierflow actions list [flags]

Lists the action queue, most urgent first (priority, then due time), so a
person can see what was queued for whom and whether it was done. Systems
that consume the queue claim items themselves with FOR UPDATE SKIP LOCKED;
see docs/queue.md for the contract.

Examples:
  tierflow actions list
  tierflow actions list --status pending --action winback_call --limit 20
  tierflow actions list --customer 42 --format json   # docs/output.md
  tierflow actions list --status failed --format csv > failed.csv
`

func runActions(ctx context.Context, a *app, args []string) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "-h" && args[0] != "--help") {
		return a.errorf("actions: the subcommand is list (tierflow actions list --help)")
	}
	if args[0] == "list" {
		args = args[1:]
	}
	fs := a.flagSet("actions list", actionsUsage)
	configPath := fs.String("config", "", "config `file` (default ./tierflow.yaml)")
	var f kernel.ActionFilter
	fs.StringVar(&f.RuleSet, "ruleset", "", "only this rule set")
	fs.StringVar(&f.Action, "action", "", "only this action")
	fs.StringVar(&f.Customer, "customer", "", "only this customer `key`")
	fs.StringVar(&f.Status, "status", "", "only this `status`: pending, claimed, done or failed")
	fs.IntVar(&f.Limit, "limit", 50, "at most this many rows")
	ff := addFormatFlag(fs, "text, json (docs/output.md), markdown or csv")
	if _, code, ok := a.parse(fs, args); !ok {
		return code
	}
	v, err := pickView(ff, a.stdout, views.NewTable)
	if err != nil {
		return a.errorf("actions: %v", err)
	}
	store, err := a.openStore(ctx, *configPath)
	if err != nil {
		return a.errorf("actions: %v", err)
	}
	defer store.Close()
	rows, err := store.Actions(ctx, f)
	if err != nil {
		return a.errorf("actions: %v", err)
	}
	if err := v.Actions(rows); err != nil {
		return a.errorf("actions: %v", err)
	}
	return exitOK
}
