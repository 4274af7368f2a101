package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tierflow/tierflow/examples"
	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/jobs/kernel"
)

const demoUsage = `
Usage: tierflow demo [flags]

A tour of tierflow in a directory of its own, with no database server,
along exactly the path a new project takes: it writes the retail example
rule set and a config whose facts source is a CSV file, generates demo
customers into that file with tierflow gen, then runs check, test,
migrate, plan and apply as of one date, keeping state in the embedded
SQLite file; generates the same customers a month on and runs plan and
apply again, so you see customers move and follow-up actions queued
(each plan in full, each apply in a few lines: its run, moves, actions
and duration); shows the queue, delivers one round of winback_call
actions to a JSON Lines file (outbox.jsonl, as tierflow deliver --once
would); records how the account reviews and calls ended, applies a week
later and shows the coverage of each class; shows why the run that
queued one customer's win-back call moved them (tierflow history, and
tierflow explain --run); and ends by writing the class report, one HTML
file (report.html) with
the class sizes, moves, churn and follow-ups of its runs, and printing
its path. It needs no terminal or input and takes a few seconds at its
default size.

Running it again starts the demo over in the same directory.

Examples:
  tierflow demo
  tierflow demo --dir /tmp/tf-demo --customers 100000 --seed 7
`

// demoMarker marks a directory the demo created, so a rerun may reset it.
const demoMarker = ".tierflow-demo"

func runDemo(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("demo", demoUsage)
	dir := fs.String("dir", "tierflow-demo", "the `directory` to create the demo in")
	customers := fs.Int("customers", 20000, "how many demo customers to generate")
	seed := fs.Int64("seed", 42, "picks the demo customers: the same seed gives the same customers")
	if _, code, ok := a.parse(fs, args); !ok {
		return code
	}
	asOf := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	if err := prepareDemoDir(*dir); err != nil {
		return a.errorf("demo: %v", err)
	}
	cfgPath := filepath.Join(*dir, "tierflow.yaml")
	rulesDir := filepath.Join(*dir, "rules")
	cfg := gen.Config{Customers: *customers, Seed: *seed, AsOf: asOf}
	month := cfg.Advance(1).SnapshotAt()
	week := month.Add(7 * 24 * time.Hour)
	day := func(t time.Time) string { return t.Format("2006-01-02") }
	factsPath := filepath.Join(*dir, "facts.csv")
	genArgs := func(months int) []string {
		return []string{"gen", "--customers", fmt.Sprint(*customers), "--seed", fmt.Sprint(*seed),
			"--as-of", day(asOf), "--months", fmt.Sprint(months), "--out", factsPath}
	}

	a.say("Writing the retail example rule set (rules/, and a copy in baseline/) and a config to %s/", *dir)
	if err := writeDemoFiles(*dir); err != nil {
		return a.errorf("demo: %v", err)
	}
	steps := []struct {
		title string
		run   func() int
		ok    []int
	}{
		{fmt.Sprintf("tierflow gen: %s demo customers into %s (facts as of %s)", thousands(*customers), factsPath, day(asOf)),
			func() int { return a.run(ctx, genArgs(0)) }, []int{exitOK}},
		{"tierflow check: every rule compiles, every name exists", func() int { return a.run(ctx, []string{"check", rulesDir}) }, []int{exitOK}},
		{"tierflow test: the rule set's own test cases", func() int { return a.run(ctx, []string{"test", rulesDir}) }, []int{exitOK}},
		{"tierflow migrate: create tierflow's tables", func() int { return a.run(ctx, []string{"migrate", "--config", cfgPath}) }, []int{exitOK}},
		{"tierflow plan: what a first run would do", func() int {
			return a.run(ctx, []string{"plan", "--quiet", "--config", cfgPath, "--as-of", day(asOf)})
		}, []int{exitOK}},
		{"tierflow apply: assign every customer (a first run queues no actions)", func() int {
			return a.demoApply(ctx, cfgPath, day(asOf))
		}, []int{exitOK}},
		{fmt.Sprintf("A month passes: tierflow gen --months 1, new facts as of %s (some customers buy, some stop)", day(month)),
			func() int { return a.run(ctx, genArgs(1)) }, []int{exitOK}},
		{"tierflow plan: who moves, and which follow-ups would be queued", func() int {
			return a.run(ctx, []string{"plan", "--quiet", "--config", cfgPath, "--as-of", day(month)})
		}, []int{exitOK}},
		{"tierflow apply: reclassify and queue the follow-ups, as the plan said", func() int {
			return a.demoApply(ctx, cfgPath, day(month))
		}, []int{exitOK}},
		{"tierflow actions list: the queue your CRM, mail and call centre consume", func() int {
			return a.run(ctx, []string{"actions", "list", "--config", cfgPath, "--limit", "8"})
		}, []int{exitOK}},
		{"tierflow deliver --once: one round of winback_call actions to the outbox destination", func() int {
			if code := a.run(ctx, []string{"deliver", "--once", "--config", cfgPath}); code != exitOK {
				return code
			}
			return a.sayOutbox(filepath.Join(*dir, demoOutbox))
		}, []int{exitOK}},
		{"The account managers report how their calls ended: tierflow actions done ID --outcome reached", func() int {
			return a.demoOutcomes(ctx, cfgPath, rulesDir, month.Add(3*24*time.Hour))
		}, []int{exitOK}},
		{fmt.Sprintf("A week on, tierflow apply as of %s: outcomes count toward coverage, and reached customers get no second review", day(week)), func() int {
			return a.demoApply(ctx, cfgPath, day(week))
		}, []int{exitOK}},
		{"tierflow coverage: the share of each class reached in its window (覆盖率)", func() int {
			return a.run(ctx, []string{"coverage", "--config", cfgPath})
		}, []int{exitOK}},
	}
	for i, st := range steps {
		a.say("\n[%d/%d] %s", i+1, len(steps)+2, st.title)
		code := st.run()
		if !contains(st.ok, code) {
			return a.errorf("demo: step %d (%s) ended with exit status %d", i+1, st.title, code)
		}
	}
	key, run, err := a.demoCustomer(ctx, cfgPath)
	if err != nil {
		return a.errorf("demo: %v", err)
	}
	a.say("\n[%d/%d] Why did customer %s move? tierflow history, and explain --run %d: the run that queued their follow-up", len(steps)+1, len(steps)+2, key, run)
	a.run(ctx, []string{"history", "--config", cfgPath, "--customer", key})
	a.say("")
	a.run(ctx, []string{"explain", "--config", cfgPath, "--customer", key, "--run", fmt.Sprint(run)})
	report := filepath.Join(*dir, demoReport)
	a.say("\n[%d/%d] tierflow report: the classes and follow-ups of these runs, in one HTML file", len(steps)+2, len(steps)+2)
	if code := a.run(ctx, []string{"report", "--config", cfgPath, "--since", day(asOf.AddDate(0, 0, -29)), "--out", report}); code != exitOK {
		return a.errorf("demo: tierflow report ended with exit status %d", code)
	}
	a.say("Open it in a browser: it needs no network, and travels as an e-mail attachment:\n  %s", report)
	a.say(`
That was tierflow. Try next, in %[1]s/:
  - Edit a threshold in rules/retail.yaml (say key_spend: 10000 -> 8000), then see its effect:
      tierflow plan --config %[2]s --as-of %[3]s
  - Preview the edit as a pull request would, against the original rules in baseline/:
      tierflow plan --config %[2]s --as-of %[3]s --baseline %[1]s/baseline
  - Why a run moved a customer:  tierflow explain --config %[2]s --customer %[4]s --run %[5]d
    and what the next run would do for them:  tierflow explain --config %[2]s --customer %[4]s
  - Write your own rules:   docs/rules.md; start a project with tierflow init
  - Point it at PostgreSQL: set TIERFLOW_DATABASE_URL (README, "Where facts come from, where state is kept")`,
		*dir, cfgPath, day(month), key, run)
	return exitOK
}

// say writes one line of the demo's narration to stdout.
func (a *app) say(format string, args ...any) {
	fmt.Fprintf(a.stdout, format+"\n", args...)
}

func contains(list []int, x int) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}

// prepareDemoDir creates dir, or resets one an earlier demo created. It
// refuses a directory that holds anything else.
func prepareDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	case err != nil:
		return err
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return fmt.Errorf("%s exists and was not made by tierflow demo; choose another with --dir", dir)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "tierflow.db") || e.Name() == "facts.csv" || e.Name() == demoOutbox || e.Name() == demoReport {
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					return err
				}
			}
		}
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("made by tierflow demo; rerunning the demo resets this directory\n"), 0o644)
}

const demoConfig = `# tierflow demo configuration: facts from a CSV export, state in the
# embedded SQLite file, and the retail example rule set. See
# docs/operations.md for a real deployment.
database:
  path: tierflow.db            # the embedded store; set url_env or url_file for PostgreSQL
rulesets:
  - rules: rules/retail.yaml
    source:
      file: facts.csv          # written by tierflow gen; a glob and .gz work too
destinations:
  outbox:                      # rules/retail.yaml: winback_call has deliver_to: outbox
    type: file
    path: outbox.jsonl         # JSON Lines; a webhook destination is a few keys more
`

// demoOutbox is the file the demo delivers actions to.
const demoOutbox = "outbox.jsonl"

// demoReport is the class report the demo ends with.
const demoReport = "report.html"

// demoDeliverTo is the line the demo adds to the example's winback_call
// action, so that tierflow deliver has something to deliver.
const demoDeliverTo = "  - name: winback_call\n    deliver_to: outbox\n"

// writeDemoFiles writes the rules twice: rules/ to edit, and baseline/
// to compare an edit with.
func writeDemoFiles(dir string) error {
	for _, sub := range []string{"rules", "baseline"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
		for _, name := range []string{"retail.yaml", "retail_test.yaml"} {
			src, err := examples.Retail.ReadFile("retail/" + name)
			if err != nil {
				return err
			}
			if name == "retail.yaml" {
				if src, err = demoRules(src); err != nil {
					return err
				}
			}
			if err := os.WriteFile(filepath.Join(dir, sub, name), src, 0o644); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(dir, "tierflow.yaml"), []byte(demoConfig), 0o644)
}

// demoRules is the retail example with winback_call delivered to the
// outbox destination.
func demoRules(src []byte) ([]byte, error) {
	const action = "  - name: winback_call\n"
	if !bytes.Contains(src, []byte(action)) {
		return nil, errors.New("the retail example lost its winback_call action")
	}
	return bytes.Replace(src, []byte(action), []byte(demoDeliverTo), 1), nil
}

// sayOutbox tells how many actions the outbox file holds, and shows the
// first (cut short: a line holds the whole action).
func (a *app) sayOutbox(path string) int {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return a.errorf("demo: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		a.say("delivered 0 actions to %s: no winback_call was queued (try more --customers)", demoOutbox)
		return exitOK
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	first := lines[0]
	if r := []rune(first); len(r) > 160 {
		first = string(r[:160]) + "..."
	}
	noun := "actions"
	if len(lines) == 1 {
		noun = "action"
	}
	a.say("delivered %d %s to %s; the first line:\n  %s", len(lines), noun, demoOutbox, first)
	return exitOK
}

// demoCustomer picks a customer an apply queued a win-back call for
// (else any action), and the run that queued it.
func (a *app) demoCustomer(ctx context.Context, cfgPath string) (string, int64, error) {
	store, err := a.openStore(ctx, cfgPath)
	if err != nil {
		return "", 0, err
	}
	defer store.Close()
	acts, err := store.Actions(ctx, kernel.ActionFilter{Action: "winback_call", Limit: 1})
	if err != nil {
		return "", 0, err
	}
	if len(acts) == 0 {
		if acts, err = store.Actions(ctx, kernel.ActionFilter{Limit: 1}); err != nil {
			return "", 0, err
		}
	}
	if len(acts) == 0 {
		return "", 0, errors.New("the second apply queued no action; try another --seed")
	}
	return acts[0].Customer, acts[0].RunID, nil
}
