package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

const effectsUsage = `
Usage: tierflow effects [flags] [RULESET]

Shows what the actions with a holdout (holdout: 10% in the rule file)
achieve, for each configured rule set or RULESET: the customers an action
was queued for (treated) against those its holdout kept out of it (held
out), in each segment they were in when it fired, HORIZON days later.
For each comparison: both groups' sizes; the share of each that churned
(was in the rule set's churn: segment), with the difference and its 95%
confidence interval; the differences in the shares that stayed in the
segment and that moved up to a higher-ranked one; and whether the groups
are large enough to conclude from (--min-group), or why not. Differences
are treated minus held out, in percentage points: a negative churn
difference means the action kept customers. The interval's method is
printed under the table.

Then what the actions with a cost (cost: in the rule file) cost, per
action and segment; and, where both a cost and a churn comparison are
known, the customers kept from churning per unit of cost (投入产出比).

Decisions are read from the queue (every queued and held-out action)
and moves from the history, for decisions made from --since before
--until up to --until. A decision is compared at a horizon only once the
latest succeeded run is at least that many days after it: a 90-day
horizon needs decisions 90 days older than the last apply. Each customer
counts once per action, by its first decision in the period.
docs/follow-ups.md explains holdouts, costs and how to read the report.

Examples:
  tierflow effects                               # every rule set, decisions of the last 90 days
  tierflow effects retail --since 180d --horizons 30,90
  tierflow effects retail --since 2024-01-01 --until 2024-06-30
  tierflow effects --min-group 100 --format markdown >> "$GITHUB_STEP_SUMMARY"
  tierflow effects --format csv > effects.csv    # one row per comparison and per class cost
  tierflow effects --format json                 # docs/output.md
`

func runEffects(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("effects", effectsUsage)
	df := addDBFlags(fs)
	since := fs.String("since", "90d", "read decisions from this long before --until (30d, 26w), or from this `date`")
	until := fs.String("until", "", "read decisions up to this `date` (2024-07-01 or RFC 3339; default: the as-of of the rule set's latest succeeded run, else today)")
	horizons := fs.String("horizons", "30,60,90", "compare this many `days` after each decision, comma-separated")
	minGroup := fs.Int("min-group", jobs.DefaultMinGroup, "conclude only from treated and held-out groups of at least `N` customers each")
	ff := addFormatFlag(fs, "text, json (docs/output.md), markdown or csv")
	args, code, ok := a.parse(fs, args)
	if !ok {
		return code
	}
	v, err := pickView(ff, a.stdout, views.NewTable)
	if err != nil {
		return a.errorf("effects: %v", err)
	}
	opts, err := a.effectsFlags(*since, *until, *horizons, *minGroup)
	if err != nil {
		return a.errorf("effects: %v", err)
	}
	name, err := rulesetArg(args, *df.ruleset)
	if err != nil {
		return a.errorf("effects: %v", err)
	}
	*df.ruleset = name
	store, sets, closeAll, err := a.openRuleSets(ctx, df)
	if err != nil {
		return a.errorf("effects: %v", err)
	}
	defer closeAll() //nolint:errcheck // read only
	src, ok := store.(jobs.EffectsSource)
	if !ok {
		return a.errorf("effects: this state store (%T) cannot read back decisions and moves (jobs.EffectsSource)", store)
	}
	var reports []*jobs.EffectsReport
	for _, rs := range sets {
		rep, err := effectsOf(ctx, store, src, rs, opts)
		if err != nil {
			return a.errorf("effects: %s", store.Redact(err.Error()))
		}
		reports = append(reports, rep)
	}
	if err := v.Effects(reports); err != nil {
		return a.errorf("effects: %v", err)
	}
	return exitOK
}

// effectsFlags holds effects' flags, parsed: the period as flags give
// it, resolved per rule set by effectsOf.
type effectsFlags struct {
	period   periodFlags // without --until: up to the latest run's as-of, else today
	today    time.Time
	horizons []int
	minGroup int
}

func (a *app) effectsFlags(since, until, horizons string, minGroup int) (effectsFlags, error) {
	f := effectsFlags{today: a.now().UTC().Truncate(24 * time.Hour), minGroup: minGroup}
	var err error
	if f.period, err = parsePeriodFlags(since, until); err != nil {
		return f, err
	}
	if minGroup < 1 {
		return f, fmt.Errorf("--min-group %d: give a positive number of customers", minGroup)
	}
	for _, h := range strings.Split(horizons, ",") {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(h), "d"))
		if err != nil || n < 1 {
			return f, fmt.Errorf("--horizons %q: give positive numbers of days, comma-separated (30,60,90)", horizons)
		}
		f.horizons = append(f.horizons, n)
	}
	return f, nil
}

// effectsOf builds rs's report: the period ends at --until, else at the
// as-of of the latest succeeded run (opts.Latest), else today.
func effectsOf(ctx context.Context, store stateStore, src jobs.EffectsSource, rs *rules.RuleSet, f effectsFlags) (*jobs.EffectsReport, error) {
	opts := jobs.EffectsOptions{Horizons: f.horizons, MinGroup: f.minGroup}
	run, _, ok, err := latestReport(ctx, store, rs.Name)
	if err != nil {
		return nil, fmt.Errorf("the latest succeeded run of rule set %s: %w", rs.Name, err)
	}
	end := f.today
	if ok {
		opts.Latest, end = run.AsOf, run.AsOf
	}
	opts.From, opts.Until = f.period.span(end)
	return jobs.Effects(ctx, src, rs, opts)
}

// openRuleSets opens the state store and compiles the configured rule
// sets (all, or the one --ruleset names) without opening their facts
// sources, which reports that read only the store do not need. A rule
// file that declares no facts takes its schema from its source: then the
// sources are opened, as for a plan.
func (a *app) openRuleSets(ctx context.Context, df dbFlags) (stateStore, []*rules.RuleSet, func() error, error) {
	if err := defaultConfigExists(*df.config); err != nil {
		return nil, nil, nil, err
	}
	cfg, err := loadConfig(*df.config)
	if err != nil {
		return nil, nil, nil, err
	}
	var out []*rules.RuleSet
	for i := range cfg.RuleSets {
		r := &cfg.RuleSets[i]
		h, err := readRuleHead(cfg.rulesPath(*r))
		if err != nil {
			return nil, nil, nil, err
		}
		if *df.ruleset != "" && h.Ruleset != *df.ruleset {
			continue
		}
		if !h.hasFacts {
			return a.openRuleSetsWired(ctx, df)
		}
		rs, diags, err := compileConfigured(ctx, nil, cfg, r, h)
		if err != nil {
			return nil, nil, nil, err
		}
		if errs, _ := printDiagnostics(a.stderr, onlyErrors(diags)); errs > 0 || rs == nil {
			return nil, nil, nil, fmt.Errorf("%s has errors; fix them first (tierflow check)", cfg.rulesPath(*r))
		}
		out = append(out, rs)
	}
	if len(out) == 0 {
		_, err := configuredNames(*df.config, *df.ruleset) // says why
		return nil, nil, nil, err
	}
	store, err := a.openStore(ctx, *df.config)
	if err != nil {
		return nil, nil, nil, err
	}
	return store, out, store.Close, nil
}

// openRuleSetsWired is openRuleSets through openDB, sources opened.
func (a *app) openRuleSetsWired(ctx context.Context, df dbFlags) (stateStore, []*rules.RuleSet, func() error, error) {
	_, w, sets, err := a.openDB(ctx, df)
	if err != nil {
		return nil, nil, nil, err
	}
	out := make([]*rules.RuleSet, len(sets))
	for i, s := range sets {
		out[i] = s.rs
	}
	return w.state, out, w.Close, nil
}
