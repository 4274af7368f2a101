package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

const planUsage = `
Usage: tierflow plan [flags]

Evaluates the configured rule sets against their facts and the previous
state, and reports what an apply would change, without writing anything:
databases are read in READ ONLY transactions. For each segmentation, a
table of segment sizes before and after and the moves between segments;
the actions that would be queued, with those withheld beside them (held
out: the customer is in the action's holdout group; suppressed: a
contact limit was reached); for segments with a coverage target, the
customers due, covered, pending and overdue (docs/follow-ups.md); rule
errors with examples; sample customers who move; and whether a guard
would block the apply. When the rule set reads several sources, or a source repeats keys, or customers
the state knows are missing from the facts, the report shows each
source's rows and customers and the absent ones. A data-quality check
that fails (declared on facts in the rule file, on sources in
tierflow.yaml; docs/data-quality.md) is shown with examples, as a guard
reason: an apply would be refused. A source that returns a customer key
twice fails the plan (exit 1) unless its on_duplicate says first or last.

Incremental runs: a rule set with incremental: true in tierflow.yaml
leaves out of the evaluation the customers whose wake-up times and facts
digests, kept by earlier applies, say nothing can have changed for them;
when the facts are in the state's database they are not even read, and
on PostgreSQL the database runs the rules on the others first and leaves
unread those they leave unchanged too (--engine-only turns that off). The
report counts them as they are. A run after a rule change, at an earlier
as-of than the last apply's, of a rule set with coverage targets, after
a slot of the rule set's full_schedule, or with --full evaluates
everyone (docs/operations.md#incremental-runs).

Exit status: 0 success, whether or not anything would change, 1 an
error; with --detailed-exitcode (as terraform plan -detailed-exitcode),
0 no changes, 2 changes, 1 an error.

Rule sets and their facts sources come from tierflow.yaml: a query on the
state database, a query on another database (databases:), or CSV / JSON
Lines files (docs/sources.md). The state store is PostgreSQL when
$TIERFLOW_DATABASE_URL (or the config's database.url_file) is set,
otherwise the embedded file tierflow.db beside the config (or
database.path).

Previewing a rule change (for pull requests; see docs/ci.md): with
--baseline REF, plan evaluates the rules at REF (a git revision or a
directory) and the rules in the working tree on the same facts and
previous state, and reports only what the change causes: per
segmentation, customers classified differently (baseline -> proposed),
actions gained and lost, how many customers each rule matches before and
after, new rule errors, and sample customers with both explanations.
Facts come from the configured sources, or from a CSV / JSON Lines file
(or glob) with --facts for CI without database access.

The as-of: --as-of 2024-07-01 evaluates at 00:00 on that day in each
rule set's timezone (UTC unless the rule file sets timezone:); without
--as-of, at 00:00 today there, except that a --baseline preview of a
source with fresh_fact takes the day after its newest value when that
is older. With --as-of facts, each rule set is
evaluated as of the day after the newest date in its facts (the
source's fresh_fact, else any time or date fact; never after today, and
today when the facts hold no date), and plan says which date it took:
what CI passes to preview an export as of the day it was taken, not
years later.

Exit status of a preview: 0 success, 1 an error or a --max-* limit
crossed; with --detailed-exitcode, 2 when the change has an effect.

Examples:
  tierflow plan                                  # every configured rule set, as of today
  tierflow plan --ruleset retail --as-of 2024-07-01
  tierflow plan --detailed-exitcode || [ $? -eq 2 ]  # in a script: 2 means changes
  tierflow plan --format json > plan.json        # machine-readable (docs/plan-json.md)
  tierflow plan --format markdown >> "$GITHUB_STEP_SUMMARY"
  tierflow plan --baseline origin/main --format markdown > preview.md
  tierflow plan --baseline origin/main --facts facts.csv --as-of facts --max-moved 5% --max-actions winback_call=200 rules/
  tierflow plan --allow-failed-checks            # show the plan as an apply with the flag would see it
  tierflow plan --out plan.json                  # save it for tierflow apply plan.json
  tierflow plan --full --format json | jq '.[].incremental'   # what the marks say, every customer evaluated
`

const applyUsage = `
Usage: tierflow apply [flags] [PLAN_FILE]

Evaluates the configured rule sets like plan, then writes, in one
transaction: the changed assignments, their history, the queued actions
and the run record. Actions withheld by a holdout or a contact limit are
recorded in the queue too, as held_out or suppressed, and never
delivered; the held-out ones are the control group tierflow effects
compares with. A killed apply leaves the previous state untouched; an
apply repeated with the same data and as-of time changes nothing and
queues no action twice. Two applies of one rule set never run at once:
the second ends with "already running".

Guards refuse to write (exit 1) when more than guard.max_moved of the
customers would change segment (default 20%), more than guard.max_actions
actions would be queued, more than guard.max_error_rate of customers
fail a rule, the facts source returns more than guard.max_shrink
(default 25%) fewer customers than the last successful run (an empty
source when there were customers is always refused), or a data-quality
check declared on the facts or their sources fails (docs/data-quality.md;
tierflow check --data runs them alone; --allow-failed-checks lets one run
through). A source that returns a customer key twice fails the apply
unless its on_duplicate says first or last, whatever the flags say. The
first run of a rule set assigns everyone and is not limited by
max_moved; it queues no actions unless the rule set's initial_actions is
true in the config.

A rule set with incremental: true in the config evaluates only the
customers whose facts changed, whose wake-up time has come, or who are
new, left or followed up; the others keep their state without being
evaluated (or read, for facts in the state's database; on PostgreSQL the
rules run there first, and those they leave unchanged are not read
either, unless --engine-only). --full evaluates everyone, as a run after
a rule change or a slot of full_schedule does
(docs/operations.md#incremental-runs).

With PLAN_FILE, a plan saved by tierflow plan --out, apply evaluates the
rule sets of the plan at the plan's as-of and writes only if the result
is what the plan showed: the same rules (their hash), customers, moves
and actions. Otherwise it refuses as a guard does (exit 1, the run
recorded as blocked, nothing written), naming what differs: what a
reviewer approved is what gets applied.

--shard I/N applies shard I (0 to N-1) of a run split into N processes,
each on its own machine, against one PostgreSQL state database: it
evaluates and writes, in a transaction of its own, the customers whose
key hashes to I (the first four bytes of the key's MD5, big-endian,
modulo N). The shards of a run share its as-of (give --as-of to every
one, or start them on the same day) and a parent run, which the last
shard to commit marks succeeded, or flagged when the shards' totals are
over max_moved, max_actions or max_shrink; each shard's own guard runs
before its commit. A killed shard is rerun alone with the same flags.
Not for SQLite, nor rule sets with derived facts
(docs/operations.md#sharded-runs, with a Kubernetes Indexed Job).

Examples:
  tierflow apply
  tierflow apply --ruleset retail --as-of 2024-07-01
  tierflow apply --shard 2/4 --as-of 2024-07-01  # the third of four shard processes (Kubernetes: --shard $(JOB_COMPLETION_INDEX)/4)
  tierflow apply --allow-large-change            # after checking the plan: a big change is intended
  tierflow plan --out plan.json && tierflow apply plan.json
                                                 # apply what was reviewed: the same rules, as-of and moves,
                                                 # or refuse (exit 1, nothing written)
  tierflow apply --allow-failed-checks           # after check --data: the failed check is expected (a short holiday export)
  tierflow apply --quiet --format json > apply.json   # the same reports as plan (docs/plan-json.md)
  tierflow apply --full                          # evaluate every customer, also where incremental: true
`

func runPlan(ctx context.Context, a *app, args []string) int {
	return a.runPlanOrApply(ctx, "plan", planUsage, args)
}

func runApply(ctx context.Context, a *app, args []string) int {
	return a.runPlanOrApply(ctx, "apply", applyUsage, args)
}

func (a *app) runPlanOrApply(ctx context.Context, mode, usage string, args []string) int {
	fs := a.flagSet(mode, usage)
	df := addDBFlags(fs)
	asOfFlag := fs.String("as-of", "", "evaluate at this `date` (2024-07-01, or RFC 3339 with an offset), or, for plan, facts: the day after the newest date in the facts (see above; default: today)")
	ff := addFormatFlag(fs, "text, json (docs/plan-json.md) or markdown (for a pull-request comment)")
	allowLarge, shardFlag := false, new(string)
	if mode == "apply" {
		fs.BoolVar(&allowLarge, "allow-large-change", false, "lift the max_moved, max_actions and max_shrink guards for this run")
		shardFlag = fs.String("shard", "", "apply shard `I/N` of a run split into N processes (0 <= I < N; see above)")
	}
	allowChecks := fs.Bool("allow-failed-checks", false, "let this run through although a data-quality check on the facts or their sources fails (it is still reported)")
	quiet := fs.Bool("quiet", false, "no progress output")
	full := fs.Bool("full", false, "evaluate every customer, also in rule sets with incremental: true (docs/operations.md#incremental-runs)")
	engineOnly := fs.Bool("engine-only", false, "in an incremental run, read every customer the marks select rather than let PostgreSQL run the rules on them first (docs/operations.md#decided-in-the-database)")
	var pf previewFlags
	detailed, out := new(bool), new(string)
	if mode == "plan" {
		out = fs.String("out", "", "also save the plan to this `file`, for tierflow apply FILE to apply exactly it")
		detailed = fs.Bool("detailed-exitcode", false, "exit 2 when the plan would change something (0: nothing, 1: an error), as terraform plan -detailed-exitcode")
		pf.baseline = fs.String("baseline", "", "preview a rule change: compare with the rules at this git `revision` or directory")
		pf.facts = fs.String("facts", "", "read facts from this CSV or JSON Lines `file` instead of the database (no previous state)")
		pf.maxMoved = fs.String("max-moved", "", "with --baseline: fail (exit 1) when more than this `share` of customers is treated differently, e.g. 5%")
		fs.Var(&pf.maxActions, "max-actions", "with --baseline: fail when more than `N` customers gain or lose an action; ACTION=N limits one action (repeatable)")
	}
	paths, code, ok := a.parse(fs, args)
	if !ok {
		return code
	}
	v, err := pickView(ff, a.stdout, views.NewPlan)
	if err != nil {
		return a.errorf("%s: %v", mode, err)
	}
	asOf, fromFacts, err := a.planAsOf(mode, *asOfFlag)
	if err != nil {
		return a.errorf("%s: --as-of: %v", mode, err)
	}
	var shard jobs.Shard
	if *shardFlag != "" {
		if shard, err = jobs.ParseShard(*shardFlag); err != nil {
			return a.errorf("apply: --shard: %v", err)
		}
	}
	if mode == "plan" && *out != "" && (*pf.baseline != "" || *pf.facts != "" || len(paths) > 0) {
		return a.errorf("plan: --out saves a plan of the configured rule sets on the database, to apply; it does not go with --baseline, --facts or rule files")
	}
	if mode == "plan" && (*pf.baseline != "" || *pf.facts != "" || len(paths) > 0) {
		pf.allowChecks, pf.detailed, pf.fromFacts = *allowChecks, *detailed, fromFacts
		return a.runPreview(ctx, pf, df, paths, *asOfFlag, *quiet, v)
	}
	var saved *savedPlan
	savedPath := ""
	if mode == "apply" && len(paths) == 1 {
		if !shard.IsZero() {
			return a.errorf("apply: a saved plan is of every customer; apply it without --shard")
		}
		if saved, err = readSavedPlan(paths[0]); err != nil {
			return a.errorf("apply: %v", err)
		}
		savedPath, paths = paths[0], nil
	}
	if len(paths) > 0 {
		return a.errorf("%s: rule files come from the config's rulesets; %q is not a flag", mode, paths[0])
	}
	if mode == "apply" {
		// Before the state is opened: an apply must not queue actions for
		// a destination that does not exist.
		if err := defaultConfigExists(*df.config); err != nil {
			return a.errorf("apply: %v", err)
		}
		undeclared, err := undeclaredDestinations(*df.config, nil)
		if err != nil {
			return a.errorf("apply: %v", err)
		}
		if len(undeclared) > 0 {
			printDiagnostics(a.stderr, undeclared)
			return a.errorf("apply: rule files deliver actions to destinations the config does not declare; fix them first")
		}
	}
	cfg, w, sets, err := a.openDB(ctx, df)
	if err != nil {
		return a.errorf("%s: %v", mode, err)
	}
	defer w.Close()

	changes, failed := false, false
	viewFailed := func(err error) {
		fmt.Fprintf(a.stderr, "tierflow: %s: %v\n", mode, err)
		failed = true
	}
	var reports []*jobs.PlanReport
	if saved != nil {
		if sets, err = savedSets(saved, sets); err != nil {
			return a.errorf("apply %s: %v", savedPath, err)
		}
	}
	for _, set := range sets {
		opts := runOptions(cfg, set)
		opts.AsOf, opts.Now, opts.Incremental, opts.EngineOnly = asOf, a.now, opts.Incremental && !*full, *engineOnly
		if !fromFacts {
			if opts.AsOf, err = a.asOfIn(*asOfFlag, set.rs.Zone()); err != nil {
				return a.errorf("%s: --as-of: %v", mode, err)
			}
		}
		if saved != nil {
			p := savedFor(saved, set.rs.Name)
			opts.AsOf, opts.Approved = p.AsOf, sameAsPlan(p)
		}
		opts.Guard.AllowLarge = allowLarge
		opts.Guard.AllowFailedChecks = *allowChecks
		opts.Shard = shard
		if fromFacts {
			at, why, err := factsAsOf(ctx, w.state, w.facts, set.rs, a.now())
			if err != nil {
				fmt.Fprintf(a.stderr, "tierflow: plan %s: --as-of facts: %s\n", set.rs.Name, w.Redact(err.Error()))
				failed = true
				continue
			}
			opts.AsOf = at
			fmt.Fprintf(a.stderr, "tierflow: plan %s: as of %s, %s\n", set.rs.Name, at.Format("2006-01-02"), why)
		}
		var prog *progress
		if !*quiet {
			prog = a.newProgress(set.rs.Name)
			opts.Progress = prog.update
		}
		var out *jobs.Outcome
		if mode == "plan" {
			out, err = jobs.Plan(ctx, w.state, w.facts, set.rs, opts)
		} else {
			out, err = jobs.Apply(ctx, w.state, w.facts, set.rs, opts)
		}
		prog.finish()
		// A report explains a plan, an apply, or a guard's refusal; after
		// any other failure (a lost connection at commit) it would show
		// changes that were not written.
		explains := mode == "plan" || err == nil || errors.Is(err, jobs.ErrBlocked) || errors.Is(err, jobs.ErrTooManyRuleErrors)
		if out != nil && out.Report != nil && explains {
			reports = append(reports, out.Report)
			if err := v.Report(out.Report); err != nil {
				viewFailed(err)
			}
			if out.Report.HasChanges() {
				changes = true
			}
		}
		switch {
		case errors.Is(err, jobs.ErrLocked):
			why := "another apply of this rule set holds its lock"
			if err.Error() != jobs.ErrLocked.Error() {
				why = w.Redact(err.Error()) // a shard's: which run holds it
			}
			fmt.Fprintf(a.stderr, "tierflow: apply %s: already running: %s; this run was recorded as skipped\n", set.rs.Name, why)
			failed = true
		case err != nil:
			fmt.Fprintf(a.stderr, "tierflow: %s %s: %s\n", mode, set.rs.Name, w.Redact(err.Error()))
			failed = true
		case mode == "apply":
			if err := v.Applied(set.rs.Name, out.RunID); err != nil {
				viewFailed(err)
			}
			if out.MaintainErr != nil {
				fmt.Fprintf(a.stderr, "tierflow: apply %s: applied, but the summaries reports read are behind (reports count from the queue until the next apply brings them up to date): %s\n",
					set.rs.Name, w.Redact(out.MaintainErr.Error()))
			}
		}
	}
	if err := v.Close(); err != nil {
		viewFailed(err)
	}
	if *out != "" && !failed {
		if err := writeSavedPlan(*out, reports); err != nil {
			return a.errorf("plan: --out: %v", err)
		}
		fmt.Fprintf(a.stderr, "saved the plan to %s; tierflow apply %s applies exactly it, or refuses\n", *out, *out)
	}
	switch {
	case failed:
		return exitFailure
	case changes && *detailed:
		return exitChanges
	}
	return exitOK
}

// asOfIn is the as-of an --as-of value s gives a rule set whose time
// zone is loc: a date alone, or no value (today, read here at the edge),
// is the start of that day in loc, the day the rule set's date helpers
// count from; a date-time without an offset is read on loc's clock. For
// a rule set in UTC it is what asOfFlag gives.
func (a *app) asOfIn(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		y, m, d := a.now().In(loc).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, loc).UTC(), nil
	}
	return rules.ParseTimeIn(s, loc)
}

// asOfFlag is the as-of time an --as-of flag gives: the date or time
// written, else today at midnight UTC, read here at the edge.
func (a *app) asOfFlag(s string) (time.Time, error) {
	if s == "" {
		return a.now().UTC().Truncate(24 * time.Hour), nil
	}
	return rules.ParseTime(s)
}
