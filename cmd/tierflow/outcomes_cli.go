package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// runActionOutcome runs actions done and actions fail: it records how a
// follow-up ended, checked against the rule file of its action.
func runActionOutcome(ctx context.Context, a *app, verb string, args []string) int {
	fs := a.flagSet("actions "+verb, actionsUsage)
	configPath := fs.String("config", "", "config `file` (default ./tierflow.yaml)")
	var outcome string
	if verb == "done" {
		fs.StringVar(&outcome, "outcome", "", "how it ended: one of the `outcome`s the action declares (outcomes: in its rule file)")
	}
	note := fs.String("note", "", "free `text` kept with the outcome: what happened, or why it failed")
	atFlag := fs.String("at", "", "when it ended: a `time` (2024-07-01T15:04:05+08:00) or a date (2024-07-01); default now")
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
	now := a.now()
	at := now
	if *atFlag != "" {
		if at, err = rules.ParseTime(*atFlag); err != nil {
			return a.errorf("actions %s: --at: %v", verb, err)
		}
	}
	if err := notFuture(at, now); err != nil {
		return a.errorf("actions %s: --at: %v", verb, err)
	}
	status := map[string]string{"done": jobs.ActionDone, "fail": jobs.ActionFailed}[verb]
	return a.recordOutcome(ctx, verb, *configPath, jobs.OutcomeReport{ID: id, Status: status, Outcome: outcome, Note: *note, At: outcomeTime(at)})
}

// recordOutcome records report with the store and rule files of the
// config at configPath, and prints what it recorded.
func (a *app) recordOutcome(ctx context.Context, verb, configPath string, report jobs.OutcomeReport) int {
	id := report.ID
	cfg, err := loadConfig(configPath)
	if err != nil {
		return a.errorf("actions %s: %v", verb, err)
	}
	be, err := cfg.backend(a.getenv)
	if err != nil {
		return a.errorf("actions: %v", err)
	}
	store, err := be.openState(ctx, cfg.Database.Schema)
	if err != nil {
		return a.errorf("actions: %v", err)
	}
	defer store.Close()
	rl := &ruleSetLoader{ctx: ctx, a: a, cfg: cfg, loaded: map[string]*rules.RuleSet{}}
	ref, err := jobs.RecordOutcome(ctx, store, rl.get, report)
	switch {
	case err == nil:
	case isNoAction(err):
		return a.errorf("actions %s: no action %d in the queue", verb, id)
	case rl.err != nil && errors.Is(err, jobs.ErrBadOutcome):
		return a.errorf("actions %s: action %d: %s", verb, id, store.Redact(rl.err.Error()))
	case errors.Is(err, jobs.ErrNotFinishable):
		return a.errorf("actions %s: %s", verb, notFinishable(err))
	default:
		return a.errorf("actions %s: %s", verb, store.Redact(err.Error()))
	}
	what := fmt.Sprintf("action %d %s: %s for customer %s", id, ref.Status, ref.Action, ref.Customer)
	if report.Outcome != "" {
		what += ", outcome " + report.Outcome
	}
	fmt.Fprintf(a.stdout, "%s, at %s\n", what, report.At.Format(time.RFC3339))
	return exitOK
}

// isNoAction reports whether err says the queue has no such action, as
// jobs or a store's kernel says it.
func isNoAction(err error) bool {
	return errors.Is(err, jobs.ErrNoAction) || errors.Is(err, kernel.ErrNoAction)
}

// ruleSetLoader compiles the configured rule set of a name on first use,
// for checking the outcomes reported of its actions. Its facts sources
// are opened only when the rule file declares no facts, for their
// columns.
type ruleSetLoader struct {
	ctx    context.Context
	a      *app
	cfg    *config
	loaded map[string]*rules.RuleSet
	// err is the first failure to load a rule set, said instead of "not
	// loaded".
	err error
}

// get returns the rule set name, nil when the config does not list it
// or it cannot be compiled (then err says why).
func (l *ruleSetLoader) get(name string) *rules.RuleSet {
	if rs, ok := l.loaded[name]; ok {
		return rs
	}
	rs, err := l.load(name)
	if err != nil && l.err == nil {
		l.err = err
	}
	l.loaded[name] = rs
	return rs
}

func (l *ruleSetLoader) load(name string) (*rules.RuleSet, error) {
	var unreadable error
	for i := range l.cfg.RuleSets {
		r := &l.cfg.RuleSets[i]
		h, err := readRuleHead(l.cfg.rulesPath(*r))
		if err != nil {
			unreadable = cmp.Or(unreadable, err)
			continue
		}
		if h.Ruleset != name {
			continue
		}
		var ss jobs.Sources
		if !h.hasFacts {
			names := make([]string, len(l.cfg.RuleSets))
			names[i] = name
			w, err := l.cfg.wire(l.ctx, l.a.getenv, names)
			if err != nil {
				return nil, err
			}
			defer w.Close()
			ss = w.sources(name)
		}
		rs, diags, err := compileConfigured(l.ctx, ss, l.cfg, r, h)
		if err != nil {
			return nil, err
		}
		if rs == nil {
			printDiagnostics(l.a.stderr, onlyErrors(diags))
			return nil, fmt.Errorf("%s has errors; fix them first (tierflow check)", l.cfg.rulesPath(*r))
		}
		return rs, nil
	}
	if unreadable != nil {
		return nil, fmt.Errorf("rule set %s is in none of the config's readable rule files: %w", name, unreadable)
	}
	return nil, nil
}
