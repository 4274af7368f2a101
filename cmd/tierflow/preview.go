package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// previewFlags are plan's flags for previews of a rule change.
type previewFlags struct {
	baseline   *string
	facts      *string
	maxMoved   *string
	maxActions listFlag
	// allowChecks is --allow-failed-checks, detailed --detailed-exitcode.
	allowChecks, detailed bool
	// fromFacts is --as-of facts: each rule set is previewed as of its
	// facts' date (factsAsOf).
	fromFacts bool
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func (p previewFlags) limits() (jobs.DiffLimits, error) {
	var l jobs.DiffLimits
	if *p.maxMoved != "" {
		v, err := parseShare(*p.maxMoved)
		if err != nil {
			return l, fmt.Errorf("--max-moved: %w", err)
		}
		l.MaxMovedShare = v
	}
	for _, spec := range p.maxActions {
		name, num, found := strings.Cut(spec, "=")
		if !found {
			name, num = "", spec
		}
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if err != nil || n < 0 {
			return l, fmt.Errorf("--max-actions %q: write a number (a total) or ACTION=NUMBER", spec)
		}
		if l.MaxActions == nil {
			l.MaxActions = map[string]int{}
		}
		l.MaxActions[strings.TrimSpace(name)] = n
	}
	return l, nil
}

// runPreview is plan with --baseline and/or --facts: it evaluates the
// rule files on a facts file or the configured database, and with a
// baseline reports only what the rule change causes.
func (a *app) runPreview(ctx context.Context, pf previewFlags, df dbFlags, paths []string, asOfText string, quiet bool, v views.Plan) int {
	asOfGiven := asOfText != ""
	// asOf is the as-of of rule set rs: --as-of's date in its time zone
	// (--as-of facts replaces it below, per rule set).
	asOf := func(rs *rules.RuleSet) (time.Time, error) {
		if pf.fromFacts {
			return time.Time{}, nil
		}
		return a.asOfIn(asOfText, rs.Zone())
	}
	limits, err := pf.limits()
	if err != nil {
		return a.errorf("plan: %v", err)
	}
	type target struct {
		rs    *rules.RuleSet
		state jobs.StateStore
		facts jobs.FactsSource
		opts  jobs.Options
	}
	var targets []target
	closeStore := func() {}
	if *pf.facts != "" {
		file, err := openFactsFile(*pf.facts)
		if err != nil {
			return a.errorf("plan: %v", err)
		}
		cfg, cfgErr := loadConfig(*df.config)
		if len(paths) == 0 {
			if cfgErr != nil {
				return a.errorf("plan: %v", cfgErr)
			}
			for _, r := range cfg.RuleSets {
				paths = append(paths, cfg.rulesPath(r))
			}
		}
		if len(paths) == 0 {
			return a.errorf("plan: name the rule files to preview (e.g. tierflow plan --facts facts.csv --baseline origin/main rules/)")
		}
		loaded := rules.LoadFiles(paths, ruleOptions())
		if errs, _ := printDiagnostics(a.stderr, onlyErrors(loaded.Diagnostics)); errs > 0 {
			return exitFailure
		}
		for _, rs := range loaded.RuleSets {
			if *df.ruleset == "" || rs.Name == *df.ruleset {
				// A facts export in CI comes without previous state.
				o := jobs.Options{Now: a.now}
				if o.AsOf, err = asOf(rs); err != nil {
					return a.errorf("plan: --as-of: %v", err)
				}
				if cfgErr == nil {
					// As plan on the database would: a first run queues
					// actions only under initial_actions: true.
					o.InitialActions = cfg.initialActions(rs.File)
				}
				o.Guard.AllowFailedChecks = pf.allowChecks
				targets = append(targets, target{rs: rs, state: jobs.NoState{}, facts: file, opts: o})
			}
		}
	} else {
		cfg, w, sets, err := a.openDB(ctx, df)
		if err != nil {
			return a.errorf("plan: %v", err)
		}
		closeStore = func() { w.Close() }
		for _, set := range sets {
			o := runOptions(cfg, set)
			if o.AsOf, err = asOf(set.rs); err != nil {
				return a.errorf("plan: --as-of: %v", err)
			}
			o.Now = a.now
			o.Guard.AllowFailedChecks = pf.allowChecks
			targets = append(targets, target{rs: set.rs, state: w.state, facts: w.facts, opts: o})
		}
	}
	defer closeStore()
	if len(targets) == 0 {
		return a.errorf("plan: no rule set to preview")
	}

	effect, failed := false, false
	var diffs []*jobs.DiffReport
	var plans []*jobs.PlanReport
	for _, t := range targets {
		var prog *progress
		if !quiet {
			prog = a.newProgress(t.rs.Name)
			t.opts.Progress = prog.update
		}
		if pf.fromFacts {
			at, why, err := factsAsOf(ctx, t.state, t.facts, t.rs, a.now())
			if err != nil {
				prog.finish()
				fmt.Fprintf(a.stderr, "tierflow: plan %s: --as-of facts: %v\n", t.rs.Name, err)
				failed = true
				continue
			}
			t.opts.AsOf = at
			fmt.Fprintf(a.stderr, "tierflow: plan %s: previewing as of %s, %s\n", t.rs.Name, at.Format("2006-01-02"), why)
		}
		if *pf.baseline == "" {
			out, err := jobs.Plan(ctx, t.state, t.facts, t.rs, t.opts)
			prog.finish()
			if err != nil {
				fmt.Fprintf(a.stderr, "tierflow: plan %s: %v\n", t.rs.Name, err)
				failed = true
				continue
			}
			plans = append(plans, out.Report)
			effect = effect || out.Report.HasChanges()
			continue
		}
		if !asOfGiven {
			if at, why, err := factsDate(ctx, t.state, t.facts, t.rs, a.now()); err != nil {
				prog.finish()
				fmt.Fprintf(a.stderr, "tierflow: plan %s: %v\n", t.rs.Name, err)
				failed = true
				continue
			} else if !at.IsZero() {
				t.opts.AsOf = at
				fmt.Fprintf(a.stderr, "tierflow: plan %s: previewing as of %s, %s (pass --as-of to choose)\n", t.rs.Name, at.Format("2006-01-02"), why)
			}
		}
		base, err := baselineFor(*pf.baseline, t.rs)
		if err != nil {
			prog.finish()
			fmt.Fprintf(a.stderr, "tierflow: plan %s: %v\n", t.rs.Name, err)
			failed = true
			continue
		}
		rep, err := jobs.PlanDiff(ctx, t.state, t.facts, base, t.rs, t.opts, limits)
		prog.finish()
		if err != nil {
			fmt.Fprintf(a.stderr, "tierflow: plan %s: %v\n", t.rs.Name, err)
			failed = true
			continue
		}
		rep.Baseline = *pf.baseline
		diffs = append(diffs, rep)
		effect = effect || rep.HasEffect()
		if rep.Limits.Crossed {
			failed = true
			for _, r := range rep.Limits.Reasons {
				fmt.Fprintf(a.stderr, "tierflow: plan %s: limit crossed: %s\n", t.rs.Name, r)
			}
		}
	}
	if err := renderPreview(v, diffs, plans); err != nil {
		fmt.Fprintf(a.stderr, "tierflow: plan: %v\n", err)
		failed = true
	}
	switch {
	case failed:
		return exitFailure
	case effect && pf.detailed:
		return exitChanges
	}
	return exitOK
}

// renderPreview prints the previews, then the plans, in the view's format.
func renderPreview(v views.Plan, diffs []*jobs.DiffReport, plans []*jobs.PlanReport) error {
	for _, d := range diffs {
		if err := v.Diff(d); err != nil {
			return err
		}
	}
	for _, p := range plans {
		if err := v.Report(p); err != nil {
			return err
		}
	}
	return v.Close()
}

// factsDate is the as-of time a rule-change preview defaults to when the
// facts say their own date: the day after the newest value of the
// primary source's fresh_fact, when that is before today; zero when the
// source declares none or its facts are current. A preview of an old
// export then shows what the rule change does to those customers as of
// the export, not what it would do years later.
func factsDate(ctx context.Context, state jobs.StateStore, facts jobs.FactsSource, rs *rules.RuleSet, now time.Time) (time.Time, string, error) {
	src, ok := facts.(jobs.FactsByRuleSet)
	if !ok {
		return time.Time{}, "", nil
	}
	ss, ok := src.For(rs.Name).(jobs.Sources)
	if !ok || len(ss) == 0 || ss[0].FreshFact == "" {
		return time.Time{}, "", nil
	}
	today := now.UTC().Truncate(24 * time.Hour)
	q, err := jobs.CheckData(ctx, state, facts, rs, jobs.Options{AsOf: today})
	if err != nil {
		return time.Time{}, "", err
	}
	newest, err := time.Parse(time.RFC3339, q.Sources[0].Newest)
	if err != nil {
		return time.Time{}, "", nil // no value: keep today
	}
	at := newest.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	if !at.Before(today) {
		return time.Time{}, "", nil
	}
	return at, fmt.Sprintf("the day after the newest %s in the facts (%s)", ss[0].FreshFact, newest.UTC().Format("2006-01-02")), nil
}

// initialActions reports whether the config sets initial_actions for the
// rule set in file, named by its rules: path or found in its directory.
func (c *config) initialActions(file string) bool {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return filepath.Clean(p)
	}
	f := abs(file)
	for _, r := range c.RuleSets {
		p := abs(c.rulesPath(r))
		if p == f || filepath.Dir(f) == p {
			return r.InitialActions
		}
	}
	return false
}
