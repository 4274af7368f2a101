package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

const actionsUsage = `
Usage: tierflow actions list [flags]
       tierflow actions show ID [--format text|json]
       tierflow actions done ID [--outcome NAME] [--note TEXT] [--at TIME]
       tierflow actions fail ID [--note TEXT] [--at TIME]
       tierflow actions retry ID
       tierflow actions cancel ID

list shows the action queue, most urgent first (priority, then due time),
so a person can see what was queued for whom and whether it was done.
show prints one action with its outcome, the customer's segments when it
was queued, and every delivery attempt (time, duration, HTTP status,
error, response excerpt). retry puts a dead, failed or cancelled action
back in the queue, due now; cancel stops a pending or claimed one from
being delivered. Actions with deliver_to are delivered by tierflow
deliver (docs/delivery.md); other systems claim the rest themselves with
FOR UPDATE SKIP LOCKED (docs/queue.md).

done records that a follow-up ended, with one of the outcomes its action
declares (outcomes: [reached, no_answer] in the rule file; coverage
targets count them); fail records that it could not be done. Both take a
pending, claimed, done or failed action (a later report replaces an
earlier one), check the outcome against the config's rule files, and
time it now unless --at says when: 2024-07-01T15:04:05+08:00, or a date
(midnight UTC). tierflow serve takes the same reports over HTTP (POST
/v1/actions/ID/outcome, docs/operations.md).

Statuses: pending, claimed, done, failed, dead, cancelled; and held_out
(the customer is in the action's holdout group) or suppressed (a contact
limit) for actions that fired but were withheld: kept as the record of
the decision, with the reason in their note, and never delivered.

Examples:
  tierflow actions list
  tierflow actions list --status pending --action winback_call --limit 20
  tierflow actions list --status dead --destination crm_hook
  tierflow actions list --status held_out --action winback_call
  tierflow actions list --customer 42 --format json   # docs/output.md
  tierflow actions list --status failed --format csv > failed.csv
  tierflow actions show 1042
  tierflow actions done 1042 --outcome reached --note "booked a store visit"
  tierflow actions done 1042 --outcome no_answer --at 2024-07-01T10:30:00+08:00
  tierflow actions fail 1042 --note "number disconnected"
  tierflow actions retry 1042
  tierflow actions cancel 1042
`

// actionStatuses are the statuses an action can have.
var actionStatuses = []string{jobs.ActionPending, jobs.ActionClaimed, jobs.ActionDone, jobs.ActionFailed, jobs.ActionDead, jobs.ActionCancelled,
	jobs.ActionHeldOut, jobs.ActionSuppressed}

var actionSubcommands = []string{"list", "show", "done", "fail", "retry", "cancel"}

func runActions(ctx context.Context, a *app, args []string) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		args = append([]string{"list"}, args...)
	}
	if len(args) == 0 || !slices.Contains(actionSubcommands, args[0]) {
		hint := "the subcommands are list, show, done, fail, retry and cancel"
		if len(args) > 0 {
			hint = nearOr(args[0], actionSubcommands, hint)
		}
		return a.errorf("actions: %s (tierflow actions --help)", hint)
	}
	switch args[0] {
	case "show", "retry", "cancel":
		return runActionByID(ctx, a, args[0], args[1:])
	case "done", "fail":
		return runActionOutcome(ctx, a, args[0], args[1:])
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
	var b bytes.Buffer
	if err := views.Action(format, &b, *act, attempts); err != nil {
		return a.errorf("actions show: %v", err)
	}
	out := b.Bytes()
	if format == "text" {
		out = withFollowUpRows(out, act)
	}
	if _, err := a.stdout.Write(out); err != nil {
		return a.errorf("actions show: %v", err)
	}
	return exitOK
}

// withFollowUpRows adds to the text of actions show the rows of how the
// follow-up ended (or why it was withheld) and the customer's segments
// when it was queued, after the action's other rows: those the view does
// not print itself.
func withFollowUpRows(text []byte, act *kernel.QueuedAction) []byte {
	var rows bytes.Buffer
	row := func(k, v string) {
		if v != "" && !bytes.Contains(text, []byte("\n"+k+"  ")) {
			fmt.Fprintf(&rows, "%-16s %s\n", k, v)
		}
	}
	row("outcome", act.Outcome)
	if act.OutcomeAt != nil {
		row("outcome at", act.OutcomeAt.UTC().Format(time.RFC3339))
	}
	switch act.Status {
	case jobs.ActionHeldOut, jobs.ActionSuppressed:
		row("withheld", act.Note)
	default:
		row("note", act.Note)
	}
	if len(act.Segments) > 0 {
		var segs []string
		for _, seg := range slices.Sorted(maps.Keys(act.Segments)) {
			segs = append(segs, seg+"="+act.Segments[seg])
		}
		row("segments", strings.Join(segs, ", ")+" (when queued)")
	}
	end := bytes.Index(text, []byte("\n\n"))
	if end < 0 {
		end = len(text) - 1
	}
	if rows.Len() == 0 || end < 0 {
		return text
	}
	return slices.Concat(text[:end+1], rows.Bytes(), text[end+1:])
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
