package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// explainRunsRead is how many of a rule set's latest runs explain --run
// AS-OF looks through for the one at that as-of.
const explainRunsRead = 100000

// runArg is what --run names: a run by id, or by its as-of.
type runArg struct {
	id   int64
	asOf time.Time
}

// parseRunArg reads --run: a run id, or an as-of date or time.
func parseRunArg(s string) (runArg, error) {
	s = strings.TrimSpace(s)
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		if id <= 0 {
			return runArg{}, fmt.Errorf("%q is no run id: ids start at 1 (tierflow runs lists them)", s)
		}
		return runArg{id: id}, nil
	}
	t, err := rules.ParseTime(s)
	if err != nil {
		return runArg{}, fmt.Errorf("%q is neither a run id (tierflow runs lists them) nor an as-of such as 2024-07-30", s)
	}
	return runArg{asOf: t}, nil
}

// checkRunFlags refuses what --run cannot be combined with; "" is fine.
func checkRunFlags(facts, customer, asOf string, paths []string) string {
	switch {
	case facts != "":
		return "--run explains a run recorded in the state store; a --facts file has no runs (drop one of them)"
	case customer == "":
		return "--run needs --customer KEY: the customer whose part in the run to explain"
	case asOf != "":
		return "--run explains the run at its own as-of: give the as-of to --run to pick the run (--run " + asOf + "), without --as-of"
	case len(paths) > 0:
		return "--run reads the rule sets the config names, not rule files given as arguments (pick one with --ruleset)"
	}
	return ""
}

// explainRun explains customer key's part in the run --run names, with
// the configured facts source and state store.
func (a *app) explainRun(ctx context.Context, df dbFlags, key, arg string, v views.Explain) int {
	which, err := parseRunArg(arg)
	if err != nil {
		return a.errorf("explain: --run: %v", err)
	}
	_, w, sets, err := a.openDB(ctx, df)
	if err != nil {
		return a.errorf("explain: %v", err)
	}
	defer w.Close()
	x, set, err := a.explainRecordedRun(ctx, w, sets, *df.ruleset, which, key)
	if err != nil {
		return a.errorf("explain: %s", w.Redact(err.Error()))
	}
	if err := v.Run(set.rs, x); err != nil {
		return a.errorf("explain: %v", err)
	}
	if err := v.Close(); err != nil {
		return a.errorf("explain: %v", err)
	}
	return exitOK
}

// explainRecordedRun finds the run, reads the customer's record and
// explains the run with it.
func (a *app) explainRecordedRun(ctx context.Context, w *wiring, sets []configured, ruleset string, which runArg, key string) (*jobs.RunExplanation, *configured, error) {
	reports, ok := w.state.(runReportReader)
	if !ok {
		return nil, nil, errNoRunReports
	}
	id := which.id
	var set *configured
	var rec *jobs.CustomerRecord
	var err error
	if id == 0 {
		if set, err = onlySet(sets, which.asOf); err != nil {
			return nil, nil, err
		}
		if rec, err = jobs.ReadCustomerRecord(ctx, w.state, set.rs.Name, key); err != nil {
			return nil, nil, err
		}
		if id, err = runAt(ctx, w.state, set.rs.Name, which.asOf, rec); err != nil {
			return nil, nil, err
		}
	}
	run, rep, found, err := reports.RunReport(ctx, id)
	switch {
	case err != nil:
		return nil, nil, err
	case !found:
		return nil, nil, fmt.Errorf("there is no run %d (tierflow runs lists the runs; plan records none)", id)
	case ruleset != "" && run.RuleSet != ruleset:
		return nil, nil, fmt.Errorf("run %d is of rule set %s, not %s (--ruleset): tierflow runs --ruleset %s lists the runs of %s", id, run.RuleSet, ruleset, ruleset, ruleset)
	}
	if set == nil {
		if set = setNamed(sets, run.RuleSet); set == nil {
			return nil, nil, fmt.Errorf("run %d is of rule set %s, which the config does not name", id, run.RuleSet)
		}
		if rec, err = jobs.ReadCustomerRecord(ctx, w.state, set.rs.Name, key); err != nil {
			return nil, nil, err
		}
	}
	x, err := jobs.ExplainRun(ctx, rec, w.explainFacts(), set.rs, runRef(run, rep), key)
	return x, set, err
}

// onlySet is the one rule set whose run an as-of picks.
func onlySet(sets []configured, asOf time.Time) (*configured, error) {
	if len(sets) == 1 {
		return &sets[0], nil
	}
	names := make([]string, len(sets))
	for i, s := range sets {
		names[i] = s.rs.Name
	}
	return nil, fmt.Errorf("several rule sets are configured (%s): choose the one whose run as of %s to explain with --ruleset",
		strings.Join(names, ", "), asOfText(asOf))
}

func setNamed(sets []configured, name string) *configured {
	for i := range sets {
		if sets[i].rs.Name == name {
			return &sets[i]
		}
	}
	return nil
}

// runAt returns the id of the rule set's succeeded apply as of asOf
// (jobs.SelectRun).
func runAt(ctx context.Context, state stateStore, ruleset string, asOf time.Time, rec *jobs.CustomerRecord) (int64, error) {
	runs, err := state.Runs(ctx, ruleset, explainRunsRead)
	if err != nil {
		return 0, err
	}
	refs := make([]jobs.RunRef, len(runs))
	for i, r := range runs {
		refs[i] = runRef(r, nil)
	}
	ref, err := jobs.SelectRun(ruleset, refs, asOf, rec)
	return ref.ID, err
}

// runRef is a run record as jobs.ExplainRun takes it; rep is the report
// the run stored, which says whether it was the rule set's first.
func runRef(r kernel.Run, rep *jobs.PlanReport) jobs.RunRef {
	return jobs.RunRef{ID: r.ID, RuleSet: r.RuleSet, RulesHash: r.RulesHash, AsOf: r.AsOf, Status: jobs.Status(r.Status),
		Initial: rep != nil && rep.Initial, Actions: r.Actions}
}

// asOfText shows an as-of as a date when it is a UTC midnight, else in
// RFC 3339.
func asOfText(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}
