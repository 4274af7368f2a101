package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

const coverageUsage = `
Usage: tierflow coverage [flags] [RULESET]

Shows the coverage (覆盖率) of each configured rule set, or of RULESET:
for every segment with a coverage target (coverage: in the rule file),
how many of its customers were due, covered (a covering outcome within
the target's window), pending (new to the segment, or to their last
coverage, for less than the window) and overdue, and the covered share.
The figures are those the latest succeeded apply recorded with its run,
or those of run ID; nothing is evaluated, and no facts are read.

Columns: segmentation, segment, every (the window, in days), due,
covered, pending, overdue, share (covered / due; "-" when none is due)
and covered by (the actions and, in parentheses, the outcomes that
count). A rule set with no coverage target, or no succeeded apply yet,
says so. docs/follow-ups.md explains coverage targets and how outcomes
are reported.

Examples:
  tierflow coverage                              # every configured rule set, as its last apply left it
  tierflow coverage retail
  tierflow coverage --run 42                     # as run 42 (tierflow runs lists them) left it
  tierflow coverage --format csv > coverage.csv
  tierflow coverage --format json                # docs/output.md
`

// runReportReader is what coverage and effects need of the state store
// beyond stateStore: one run's record and the report stored with it.
type runReportReader interface {
	// RunReport returns the run with the id and the plan report stored
	// with it (runs.detail); the report is nil when the run stored none,
	// and ok is false when there is no such run.
	RunReport(ctx context.Context, id int64) (run kernel.Run, report *jobs.PlanReport, ok bool, err error)
}

// errNoRunReports: the store cannot read runs' stored reports.
var errNoRunReports = errors.New("this state store cannot read the reports stored with runs (it has no RunReport)")

func runCoverage(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("coverage", coverageUsage)
	df := addDBFlags(fs)
	runID := fs.Int64("run", 0, "show the coverage run `ID` recorded (default: each rule set's latest succeeded apply)")
	ff := addFormatFlag(fs, "text, json (docs/output.md), markdown or csv")
	args, code, ok := a.parse(fs, args)
	if !ok {
		return code
	}
	v, err := pickView(ff, a.stdout, views.NewTable)
	if err != nil {
		return a.errorf("coverage: %v", err)
	}
	name, err := rulesetArg(args, *df.ruleset)
	if err != nil {
		return a.errorf("coverage: %v", err)
	}
	// The rule sets are known before the store is opened: without a
	// config, nothing is opened (or created).
	var names []string
	if *runID == 0 {
		names, err = configuredNames(*df.config, name)
	} else {
		err = defaultConfigExists(*df.config)
	}
	if err != nil {
		return a.errorf("coverage: %v", err)
	}
	store, err := a.openStore(ctx, *df.config)
	if err != nil {
		return a.errorf("coverage: %v", err)
	}
	defer store.Close()
	var runs []views.CoverageRun
	if *runID != 0 {
		runs, err = coverageOfRun(ctx, store, *runID, name)
	} else {
		runs, err = latestCoverage(ctx, store, names)
	}
	if err != nil {
		return a.errorf("coverage: %s", store.Redact(err.Error()))
	}
	if err := v.Coverage(runs); err != nil {
		return a.errorf("coverage: %v", err)
	}
	return exitOK
}

// rulesetArg is the rule set a command names, positionally or with
// --ruleset; "" for every configured one.
func rulesetArg(args []string, flagValue string) (string, error) {
	switch {
	case len(args) > 1:
		return "", fmt.Errorf("give one rule set, not %d (%q)", len(args), args)
	case len(args) == 1 && flagValue != "" && args[0] != flagValue:
		return "", fmt.Errorf("rule set %q and --ruleset %q: give one", args[0], flagValue)
	case len(args) == 1:
		return args[0], nil
	}
	return flagValue, nil
}

// configuredNames lists the rule sets of the config at path (their
// `ruleset:` names, in config order), or only name, which must be one of
// them.
func configuredNames(path, name string) ([]string, error) {
	if err := defaultConfigExists(path); err != nil {
		return nil, err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range cfg.RuleSets {
		h, err := readRuleHead(cfg.rulesPath(r))
		if err != nil {
			return nil, err
		}
		if name != "" && h.Ruleset == name {
			return []string{name}, nil
		}
		names = append(names, h.Ruleset)
	}
	switch {
	case name != "":
		return nil, fmt.Errorf("no rule set %q in the config's rulesets (it has %q)", name, names)
	case len(names) == 0:
		if path == "" {
			path = defaultConfigFile
		}
		return nil, fmt.Errorf("the config lists no rulesets: add `rulesets: [{rules: FILE, source: QUERY}]` to %s", path)
	}
	return names, nil
}

// latestCoverage reads the coverage each rule set's latest succeeded
// apply recorded.
func latestCoverage(ctx context.Context, store stateStore, names []string) ([]views.CoverageRun, error) {
	var out []views.CoverageRun
	for _, n := range names {
		run, rep, ok, err := latestReport(ctx, store, n)
		if err != nil {
			return nil, err
		}
		if !ok {
			out = append(out, views.CoverageRun{RuleSet: n})
			continue
		}
		out = append(out, coverageRun(run, rep))
	}
	return out, nil
}

// latestReport reads the rule set's latest succeeded run and its stored
// report; ok is false when it has none.
func latestReport(ctx context.Context, store stateStore, ruleset string) (kernel.Run, *jobs.PlanReport, bool, error) {
	last, ok := store.(jobs.PopulationReader)
	if !ok {
		return kernel.Run{}, nil, false, errors.New("this state store cannot find a rule set's latest succeeded run")
	}
	reports, ok := store.(runReportReader)
	if !ok {
		return kernel.Run{}, nil, false, errNoRunReports
	}
	prev, ok, err := last.LastSucceeded(ctx, ruleset)
	if err != nil || !ok {
		return kernel.Run{}, nil, false, err
	}
	run, rep, ok, err := reports.RunReport(ctx, prev.ID)
	if err != nil {
		return kernel.Run{}, nil, false, fmt.Errorf("read run %d: %w", prev.ID, err)
	}
	return run, rep, ok, nil
}

// coverageOfRun reads the coverage run id recorded; name, when given,
// must be its rule set.
func coverageOfRun(ctx context.Context, store stateStore, id int64, name string) ([]views.CoverageRun, error) {
	reports, ok := store.(runReportReader)
	if !ok {
		return nil, errNoRunReports
	}
	run, rep, ok, err := reports.RunReport(ctx, id)
	switch {
	case err != nil:
		return nil, fmt.Errorf("read run %d: %w", id, err)
	case !ok:
		return nil, fmt.Errorf("--run %d: no such run (tierflow runs lists them)", id)
	case name != "" && run.RuleSet != name:
		return nil, fmt.Errorf("--run %d is a run of rule set %s, not %s", id, run.RuleSet, name)
	case run.Status != string(jobs.StatusSucceeded):
		return nil, fmt.Errorf("--run %d %s, so nothing it found was applied; give a succeeded run (tierflow runs lists them)", id, runStatusText(run.Status))
	}
	return []views.CoverageRun{coverageRun(run, rep)}, nil
}

// runStatusText says what a run's status means, for messages.
func runStatusText(status string) string {
	switch status {
	case string(jobs.StatusRunning):
		return "is still running"
	case "missed":
		return "was missed"
	}
	return "was " + status
}

// coverageRun is the coverage a run's report holds; a run that stored no
// report (recorded before reports were kept) has none.
func coverageRun(run kernel.Run, rep *jobs.PlanReport) views.CoverageRun {
	c := views.CoverageRun{RuleSet: run.RuleSet, RunID: run.ID, AsOf: run.AsOf}
	if rep != nil {
		c.RuleSetLabel, c.Coverage = rep.RuleSetLabel, rep.Coverage
	}
	return c
}
