package main

import (
	"context"

	"github.com/tierflow/tierflow/internal/views"
)

const historyUsage = `
Usage: tierflow history --customer KEY [flags]

Lists every move of one customer recorded by apply: when (the run's
as-of time), in which segmentation, from which segment to which, the
segment whose condition matched, and why (matched, fallback, min_stay,
downgrade_grace, error). It answers "why is customer 42 at risk since
March?"; tierflow explain --customer 42 shows today's evaluation, and
--run N what run N recorded and why.

Examples:
  tierflow history --customer 42
  tierflow history --customer 42 --ruleset retail --format json   # docs/output.md
`

func runHistory(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("history", historyUsage)
	configPath := fs.String("config", "", "config `file` (default ./tierflow.yaml)")
	customer := fs.String("customer", "", "the customer's `key` (required)")
	ruleset := fs.String("ruleset", "", "only this rule set")
	ff := addFormatFlag(fs, "text, json (docs/output.md), markdown or csv")
	if _, code, ok := a.parse(fs, args); !ok {
		return code
	}
	if *customer == "" {
		return a.errorf("history: give --customer KEY")
	}
	v, err := pickView(ff, a.stdout, views.NewTable)
	if err != nil {
		return a.errorf("history: %v", err)
	}
	store, err := a.openStore(ctx, *configPath)
	if err != nil {
		return a.errorf("history: %v", err)
	}
	defer store.Close()
	entries, err := store.History(ctx, *ruleset, *customer)
	if err != nil {
		return a.errorf("history: %v", err)
	}
	if err := v.History(*customer, entries); err != nil {
		return a.errorf("history: %v", err)
	}
	return exitOK
}

// openStore connects using the config's database settings only.
func (a *app) openStore(ctx context.Context, configPath string) (stateStore, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	be, err := cfg.backend(a.getenv)
	if err != nil {
		return nil, err
	}
	return be.openState(ctx, cfg.Database.Schema)
}
