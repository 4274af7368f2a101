package main

import (
	"context"
	"fmt"

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
  tierflow actions list --customer 42 --json
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
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := a.parse(fs, args); !ok {
		return code
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
	if *asJSON {
		return a.writeJSON(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(a.stdout, "no actions match")
		return exitOK
	}
	fmt.Fprintf(a.stdout, "%-8s %-10s %-22s %-12s %-4s %-9s %-20s %s\n", "id", "ruleset", "action", "customer", "prio", "status", "due", "payload")
	for _, r := range rows {
		fmt.Fprintf(a.stdout, "%-8d %-10s %-22s %-12s %-4d %-9s %-20s %s\n", r.ID, r.RuleSet, r.Action, r.Customer, r.Priority, r.Status,
			formatValue(r.DueAt.UTC()), string(r.Payload))
	}
	return exitOK
}
