package main

import (
	"context"
	"encoding/json"
	"fmt"
)

const historyUsage = `
Usage: tierflow history --customer KEY [flags]

Lists every move of one customer recorded by apply: when (the run's
as-of time), in which segmentation, from which segment to which, the
segment whose condition matched, and why (matched, fallback, min_stay,
downgrade_grace, error). It answers "why is customer 42 at risk since
March?"; tierflow explain --customer 42 shows today's evaluation.

Examples:
  tierflow history --customer 42
  tierflow history --customer 42 --ruleset retail --json
`

func runHistory(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("history", historyUsage)
	configPath := fs.String("config", "", "config `file` (default ./tierflow.yaml)")
	customer := fs.String("customer", "", "the customer's `key` (required)")
	ruleset := fs.String("ruleset", "", "only this rule set")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := a.parse(fs, args); !ok {
		return code
	}
	if *customer == "" {
		return a.errorf("history: give --customer KEY")
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
	if *asJSON {
		return a.writeJSON(entries)
	}
	if len(entries) == 0 {
		fmt.Fprintf(a.stdout, "no recorded moves for customer %s\n", *customer)
		return exitOK
	}
	for _, e := range entries {
		from := "(none)"
		if e.From != nil {
			from = *e.From
		}
		fmt.Fprintf(a.stdout, "%s  %s.%s  %s -> %s  (%s; matched %s; run %d)\n",
			formatValue(e.AsOf), e.RuleSet, e.Segmentation, from, e.To, e.Reason, e.Matched, e.RunID)
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

func (a *app) writeJSON(v any) int {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return a.errorf("%v", err)
	}
	return exitOK
}
