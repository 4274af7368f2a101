package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// demoReviews is how many account reviews the demo's account managers
// report on; the first through tierflow actions done, as a person would.
const demoReviews = 400

// demoOutcomes plays the account managers of the demo: they report how
// the queued account reviews and win-back calls ended, at, with outcomes
// spread by the action's id (six in ten reached, two no answer, the rest
// declined) so that a rerun reports the same. It returns the exit code.
func (a *app) demoOutcomes(ctx context.Context, cfgPath, rulesDir string, at time.Time) int {
	loaded := rules.LoadFiles([]string{rulesDir}, ruleOptions())
	if err := loaded.Err(); err != nil {
		return a.errorf("demo: %v", err)
	}
	byName := func(name string) *rules.RuleSet {
		for _, rs := range loaded.RuleSets {
			if rs.Name == name {
				return rs
			}
		}
		return nil
	}
	store, err := a.openStore(ctx, cfgPath)
	if err != nil {
		return a.errorf("demo: %v", err)
	}
	defer store.Close()
	rec, ok := store.(jobs.OutcomeStore)
	if !ok {
		return a.errorf("demo: the state store cannot record outcomes")
	}
	var todo []kernel.QueuedAction
	for _, action := range []string{"account_review", "winback_call"} {
		acts, err := store.Actions(ctx, kernel.ActionFilter{Action: action, Limit: demoReviews})
		if err != nil {
			return a.errorf("demo: %v", err)
		}
		for _, q := range acts {
			if q.Status == jobs.ActionPending || q.Status == jobs.ActionDone {
				todo = append(todo, q)
			}
		}
	}
	if len(todo) == 0 {
		a.say("no account review or win-back call to report on (try more --customers)")
		return exitOK
	}
	stamp := at.Format(time.RFC3339)
	first := todo[0]
	if code := a.run(ctx, []string{"actions", "done", fmt.Sprint(first.ID), "--outcome", "reached",
		"--note", "called, all well", "--at", stamp, "--config", cfgPath}); code != exitOK {
		return code
	}
	counts := map[string]int{"reached": 1}
	for _, q := range todo[1:] {
		outcome := "reached"
		switch q.ID % 10 {
		case 6, 7:
			outcome = "no_answer"
		case 8, 9:
			outcome = "declined"
		}
		r := jobs.OutcomeReport{ID: q.ID, Status: jobs.ActionDone, Outcome: outcome, At: at}
		if _, err := jobs.RecordOutcome(ctx, rec, byName, r); err != nil {
			return a.errorf("demo: action %d: %v", q.ID, err)
		}
		counts[outcome]++
	}
	a.say("...and %d more the same way: %d reached, %d no answer, %d declined", len(todo)-1,
		counts["reached"]-1, counts["no_answer"], counts["declined"])
	return exitOK
}

// demoApply runs tierflow apply as of asOf and says what it did in one
// line, from its run record: the plan before it printed the report in
// full. When the apply fails, its whole output is printed.
func (a *app) demoApply(ctx context.Context, cfgPath, asOf string) int {
	var out bytes.Buffer
	quiet := *a
	quiet.stdout = &out
	if code := quiet.run(ctx, []string{"apply", "--quiet", "--config", cfgPath, "--as-of", asOf}); code != exitOK {
		a.stdout.Write(out.Bytes()) //nolint:errcheck // the demo's narration, as every step's
		return code
	}
	store, err := a.openStore(ctx, cfgPath)
	if err != nil {
		return a.errorf("demo: %v", err)
	}
	defer store.Close()
	runs, err := store.Runs(ctx, "", 1)
	if err != nil || len(runs) == 0 {
		return a.errorf("demo: the apply as of %s left no run record: %v", asOf, err)
	}
	r := runs[0]
	took := "?"
	if r.Finished != nil {
		took = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
	}
	noun := "actions"
	if r.Actions == 1 {
		noun = "action"
	}
	a.say("applied %s as run %d: %s customers evaluated, %s moved, %s %s queued, in %s", r.RuleSet, r.ID,
		thousands(int(r.Customers)), thousands(int(r.Changed)), thousands(int(r.Actions)), noun, took)
	return exitOK
}
