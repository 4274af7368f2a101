package main

import (
	"context"
	"os"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

const explainUsage = `
Usage: tierflow explain --facts FILE [flags] RULES
       tierflow explain --customer KEY [--ruleset NAME] [--config FILE]
       tierflow explain --customer KEY --run ID|AS-OF [--ruleset NAME] [--config FILE]

Shows how each customer in FILE is classified by the rule set in RULES (a
rule file, or a directory holding one rule set; pick one with --ruleset
otherwise): for every segmentation, each segment's condition in order with
its result and the facts it read; stickiness that held a customer; the
customer's coverage in a segment with a coverage target (covered, pending
or overdue, and the days since it was last covered); and for every action
whether it fired, or why not (condition false, cooldown, error), or why
it fired but was withheld: held_out (the customer is in the action's
holdout group) or suppressed (a contact limit was reached).

FILE is YAML or JSON: one customer or a list, each with the same shape as a
rule test case:

  - key: "42"
    as_of: 2024-07-01              # optional; --as-of overrides
    facts: {spend_12m: 30000, spend_prev_12m: 70000, last_order_at: 2024-06-20}
    previous:                      # optional: segments before this run
      value_tier: {segment: vip, since: 2022-01-01}
      lifecycle: active
    last_actions: {winback_call: 2024-03-01}   # optional

The as-of time is the --as-of flag, else the customer's as_of, else today
(UTC). Evaluation never reads the clock itself.

Without --facts, explain reads the customer's facts from the configured
facts source and previous state from the state store (tierflow.yaml),
for each configured rule set or the one --ruleset names. That state is
the one the last apply left: this shows what the next run would do, not
why the last one moved the customer, which --run shows.

With --run, explain shows why a recorded apply did what it did for the
customer. --run takes the run's id (tierflow runs lists them) or its
as-of (the rule set's succeeded apply as of 2024-07-30; --ruleset picks
the rule set when the config has several). It says what the run
recorded for the customer (its moves in the history, the actions it
queued), then evaluates the customer at the run's as-of, from their
state before the run (rebuilt from the history and the action queue),
with today's facts: tierflow keeps a run's rules hash, not its facts or
params. When that evaluation gives what the run recorded, it says so;
when not, the facts (or the rules) have changed since the run, and it
shows the record beside today's evaluation, which it never passes off
as the record. A run that was blocked, failed or skipped wrote nothing,
and plan records no run: neither has anything to explain.

Examples:
  tierflow explain --facts customer.yaml examples/retail/retail.yaml
  tierflow explain --facts customers.json --customer 42 --as-of 2024-07-01 rules/
  tierflow explain --facts customer.yaml --format json examples/retail   # docs/output.md
  tierflow explain --customer 42                 # from the configured sources, as of today
  tierflow explain --customer 42 --run 17        # why run 17 moved customer 42
  tierflow explain --customer 42 --run 2024-07-30 --ruleset retail      # the apply as of that day
`

func runExplain(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("explain", explainUsage)
	factsPath := fs.String("facts", "", "YAML or JSON `file` with the customer(s) to explain (required)")
	only := fs.String("customer", "", "explain only the customer with this `key`")
	asOfFlag := fs.String("as-of", "", "evaluate at this `date` (2024-07-01, 00:00 in the rule set's timezone, or RFC 3339; default: today, 00:00 there)")
	runFlag := fs.String("run", "", "explain the recorded apply with this `id or as-of` for --customer (tierflow runs lists them)")
	df := addDBFlags(fs)
	ruleset := df.ruleset
	ff := addFormatFlag(fs, "text, json (docs/output.md) or markdown")
	paths, code, ok := a.parse(fs, args)
	if !ok {
		return code
	}
	v, err := pickView(ff, a.stdout, views.NewExplain)
	if err != nil {
		return a.errorf("explain: %v", err)
	}
	if *runFlag != "" {
		if msg := checkRunFlags(*factsPath, *only, *asOfFlag, paths); msg != "" {
			return a.errorf("explain: %s", msg)
		}
		return a.explainRun(ctx, df, *only, *runFlag, v)
	}
	if *factsPath == "" && *only != "" && len(paths) == 0 {
		return a.explainFromDB(ctx, df, *only, *asOfFlag, v)
	}
	if *factsPath == "" || len(paths) == 0 {
		return a.errorf("explain: give --facts FILE and the rule file, or --customer KEY to read the configured facts and state (see tierflow explain --help)")
	}
	rs, code, ok := a.loadOne(paths, *ruleset)
	if !ok {
		return code
	}
	src, err := os.ReadFile(*factsPath)
	if err != nil {
		return a.errorf("explain: %v", err)
	}
	entries, err := readFactsFile(*factsPath, src)
	if err != nil {
		return a.errorf("explain: %v", err)
	}
	var asOf time.Time
	if *asOfFlag != "" {
		if asOf, err = rules.ParseTimeIn(*asOfFlag, rs.Zone()); err != nil {
			return a.errorf("explain: --as-of: %v", err)
		}
	}
	e := engine.New(rs)
	var traces []*engine.Trace
	for i := range entries {
		entry := &entries[i]
		if *only != "" && entry.Key != *only {
			continue
		}
		c, err := entry.customer(*factsPath, rs)
		if err != nil {
			return a.errorf("explain: %v", err)
		}
		t, err := a.asOf(asOf, entry.AsOf, rs.Zone())
		if err != nil {
			return a.errorf("explain: %s: customer %s: as_of: %v", *factsPath, entry.Key, err)
		}
		traces = append(traces, e.Explain(t, c))
	}
	if len(traces) == 0 {
		return a.errorf("explain: no customer %q in %s", *only, *factsPath)
	}
	for _, tr := range traces {
		if err := v.Trace(rs, tr); err != nil {
			return a.errorf("explain: %v", err)
		}
	}
	if err := v.Close(); err != nil {
		return a.errorf("explain: %v", err)
	}
	return exitOK
}

// explainFromDB explains one customer with facts and state read from the
// configured database.
func (a *app) explainFromDB(ctx context.Context, df dbFlags, key, asOfFlag string, v views.Explain) int {
	if _, err := rules.ParseTime(asOfFlag); asOfFlag != "" && err != nil {
		return a.errorf("explain: --as-of: %v", err)
	}
	_, w, sets, err := a.openDB(ctx, df)
	if err != nil {
		return a.errorf("explain: %v", err)
	}
	defer w.Close()
	for _, set := range sets {
		asOf, err := a.asOfIn(asOfFlag, set.rs.Zone())
		if err != nil {
			return a.errorf("explain: --as-of: %v", err)
		}
		c, err := jobs.FindCustomer(ctx, w.state, w.explainFacts(), set.rs, key, jobs.At(asOf))
		if err != nil {
			return a.errorf("explain: %s", w.Redact(err.Error()))
		}
		if err := v.Trace(set.rs, engine.New(set.rs).Explain(asOf, c)); err != nil {
			return a.errorf("explain: %v", err)
		}
	}
	if err := v.Close(); err != nil {
		return a.errorf("explain: %v", err)
	}
	return exitOK
}

// asOf picks the evaluation time: the flag, else the entry's, else today;
// a date is the start of that day in loc, the rule set's time zone.
func (a *app) asOf(flagValue time.Time, entry string, loc *time.Location) (time.Time, error) {
	if !flagValue.IsZero() {
		return flagValue, nil
	}
	return a.asOfIn(entry, loc)
}

// loadOne loads the rule files and picks one rule set.
func (a *app) loadOne(paths []string, name string) (*rules.RuleSet, int, bool) {
	loaded := rules.LoadFiles(paths, ruleOptions())
	if errs, _ := printDiagnostics(a.stderr, onlyErrors(loaded.Diagnostics)); errs > 0 {
		return nil, exitFailure, false
	}
	var names []string
	for _, rs := range loaded.RuleSets {
		if name == "" && len(loaded.RuleSets) == 1 || rs.Name == name {
			return rs, 0, true
		}
		names = append(names, rs.Name)
	}
	if name == "" {
		return nil, a.errorf("several rule sets found (%v): choose one with --ruleset", names), false
	}
	return nil, a.errorf("no rule set %q (found %v)", name, names), false
}

func onlyErrors(ds []rules.Diagnostic) []rules.Diagnostic {
	var out []rules.Diagnostic
	for _, d := range ds {
		if d.Severity == rules.SeverityError {
			out = append(out, d)
		}
	}
	return out
}
