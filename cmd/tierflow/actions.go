package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

const actionsUsage = `
Usage: tierflow actions list [flags]
       tierflow actions show ID [--format text|json]
       tierflow actions retry ID
       tierflow actions cancel ID

list shows the action queue, most urgent first (priority, then due time),
so a person can see what was queued for whom and whether it was done.
show prints one action with every delivery attempt (time, duration, HTTP
status, error, response excerpt). retry puts a dead, failed or cancelled
action back in the queue, due now; cancel stops a pending or claimed one
from being delivered. Actions with deliver_to are delivered by tierflow
deliver (docs/delivery.md); other systems claim the rest themselves with
FOR UPDATE SKIP LOCKED (docs/queue.md).

Statuses: pending, claimed, done, failed, dead, cancelled.

Examples:
  tierflow actions list
  tierflow actions list --status pending --action winback_call --limit 20
  tierflow actions list --status dead --destination crm_hook
  tierflow actions list --customer 42 --format json   # docs/output.md
  tierflow actions list --status failed --format csv > failed.csv
  tierflow actions show 1042
  tierflow actions retry 1042
  tierflow actions cancel 1042
`

// actionStatuses are the statuses an action can have.
var actionStatuses = []string{jobs.ActionPending, jobs.ActionClaimed, jobs.ActionDone, jobs.ActionFailed, jobs.ActionDead, jobs.ActionCancelled}

var actionSubcommands = []string{"list", "show", "retry", "cancel"}

func runActions(ctx context.Context, a *app, args []string) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		args = append([]string{"list"}, args...)
	}
	if len(args) == 0 || !slices.Contains(actionSubcommands, args[0]) {
		hint := "the subcommands are list, show, retry and cancel"
		if len(args) > 0 {
			hint = nearOr(args[0], actionSubcommands, hint)
		}
		return a.errorf("actions: %s (tierflow actions --help)", hint)
	}
	switch args[0] {
	case "show", "retry", "cancel":
		return runActionByID(ctx, a, args[0], args[1:])
	}
	fs := a.flagSet("actions list", actionsUsage)
	configPath := fs.String("config", "", "config `file` (default ./tierflow.yaml)")
	var f kernel.ActionFilter
	fs.StringVar(&f.RuleSet, "ruleset", "", "only this rule set")
	fs.StringVar(&f.Action, "action", "", "only this action")
	fs.StringVar(&f.Customer, "customer", "", "only this customer `key`")
	fs.StringVar(&f.Status, "status", "", "only this `status`: "+strings.Join(actionStatuses, ", "))
	fs.StringVar(&f.Destination, "destination", "", "only actions delivered to this destination (`name` under destinations:)")
	fs.IntVar(&f.Limit, "limit", 50, "at most this many rows")
	ff := addFormatFlag(fs, "text, json (docs/output.md), markdown or csv")
	if _, code, ok := a.parse(fs, args[1:]); !ok {
		return code
	}
	if f.Status != "" && !slices.Contains(actionStatuses, f.Status) {
		return a.errorf("actions: --status %q: %s", f.Status, nearOr(f.Status, actionStatuses, "use one of "+strings.Join(actionStatuses, ", ")))
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

// runActionByID runs actions show, retry or cancel.
func runActionByID(ctx context.Context, a *app, verb string, args []string) int {
	fs := a.flagSet("actions "+verb, actionsUsage)
	configPath := fs.String("config", "", "config `file` (default ./tierflow.yaml)")
	format := "text"
	if verb == "show" {
		fs.StringVar(&format, "format", "text", "output `format`: text or json")
	}
	pos, code, ok := a.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return a.errorf("actions %s: give one action id, e.g. tierflow actions %s 1042", verb, verb)
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return a.errorf("actions %s: %q is not an action id (the id column of tierflow actions list)", verb, pos[0])
	}
	store, err := a.openStore(ctx, *configPath)
	if err != nil {
		return a.errorf("actions: %v", err)
	}
	defer store.Close()
	switch verb {
	case "retry":
		err = store.RetryAction(ctx, id, a.now())
	case "cancel":
		err = store.CancelAction(ctx, id)
	default:
		return a.showAction(ctx, store, id, format)
	}
	if errors.Is(err, kernel.ErrNoAction) {
		return a.errorf("actions %s: no action %d in the queue", verb, id)
	}
	if err != nil {
		return a.errorf("actions: %v", err)
	}
	done := map[string]string{"retry": "queued again, due now", "cancel": "cancelled"}[verb]
	fmt.Fprintf(a.stdout, "action %d %s\n", id, done)
	return exitOK
}

func (a *app) showAction(ctx context.Context, store stateStore, id int64, format string) int {
	act, err := findAction(ctx, store, id)
	if err != nil {
		return a.errorf("actions show: %v", err)
	}
	attempts, err := store.Attempts(ctx, id)
	if err != nil {
		return a.errorf("actions show: %v", err)
	}
	if err := views.Action(format, a.stdout, *act, attempts); err != nil {
		return a.errorf("actions show: %v", err)
	}
	return exitOK
}

// findAction looks action id up in the queue.
func findAction(ctx context.Context, store stateStore, id int64) (*kernel.QueuedAction, error) {
	rows, err := store.Actions(ctx, kernel.ActionFilter{ID: id, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || rows[0].ID != id {
		return nil, fmt.Errorf("no action %d in the queue", id)
	}
	return &rows[0], nil
}
