package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the demo in an empty directory, as a newcomer would, and
// again to check a rerun starts over.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	var outbox []byte
	for run := 1; run <= 2; run++ {
		r := runDemoCLI(t, "--dir", dir, "--customers", "3000").want(t, exitOK)
		for _, want := range []string{
			"[1/16] tierflow gen: 3,000 demo customers into ",
			"ok   retail: 19/19 cases passed",
			"initial run: no customer has a segment yet",
			"applied retail as run",
			"winback_call",
			"tierflow deliver --once: one round",
			" delivered, 0 to retry, 0 dead",
			" to outbox.jsonl; the first line:\n  {\"id\":\"act_",
			"done: account_review for customer ",
			"more the same way: ",
			"tierflow coverage: the share of each class",
			"Why did customer",
			"[16/16] tierflow report: the classes and follow-ups",
			"wrote the class report of retail to " + filepath.Join(dir, "report.html") + " (",
			"Open it in a browser: it needs no network, and travels as an e-mail attachment:\n  " + filepath.Join(dir, "report.html") + "\n",
			"That was tierflow. Try next",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Fatalf("run %d: demo output lacks %q:\n%s", run, want, r.stdout)
			}
		}
		// The second apply queued follow-ups for customers who moved.
		if strings.Count(r.stdout, "pending") < 1 {
			t.Fatalf("run %d: no pending action listed:\n%s", run, r.stdout)
		}
		// The delivery round wrote winback_call actions to the outbox; a
		// rerun starts it over rather than appending.
		got, err := os.ReadFile(filepath.Join(dir, "outbox.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(got), `"action":"winback_call"`) {
			t.Fatalf("run %d: outbox holds no winback_call:\n%s", run, got)
		}
		if run == 2 && strings.Count(string(got), "\n") != strings.Count(string(outbox), "\n") {
			t.Fatalf("rerun's outbox is not the first run's over again:\n%s\nvs\n%s", got, outbox)
		}
		outbox = got
		// The report holds the three applies, with the labels of the
		// retail example.
		page, err := os.ReadFile(filepath.Join(dir, "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`<script type="application/json" id="tierflow-data">`, `"ruleset":"retail"`, `"label":"客户价值等级"`, `"churn":{"segmentation":"lifecycle","segment":"churned"`} {
			if !strings.Contains(string(page), want) {
				t.Fatalf("run %d: report.html lacks %s", run, want)
			}
		}
		if n := strings.Count(string(page), `"status":"succeeded"`); n != 3 {
			t.Fatalf("run %d: report.html has %d succeeded runs, want the demo's 3", run, n)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "baseline", "retail.yaml")); err != nil {
		t.Fatal(err)
	}
}

// runDemoCLI runs the demo with a clock after its story ends, as it is
// for anyone running it: the account managers' outcomes are in the past.
func runDemoCLI(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(&stdout, &stderr)
	a.getenv = func(string) string { return "" }
	a.now = func() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) }
	code := a.run(context.Background(), append([]string{"demo"}, args...))
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestDemoRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "demo", "--dir", dir).want(t, exitFailure)
	if !strings.Contains(r.stderr, "was not made by tierflow demo") {
		t.Fatalf("got %s", r)
	}
}

// TestDemoExplainsTheRunThatMoved: under "Why did customer K move?" the
// demo explains the run that queued K's win-back call, so the
// explanation agrees with the queue it listed just before: the call
// fired, and the record says so. The plans print in full, the applies
// a summary each.
func TestDemoExplainsTheRunThatMoved(t *testing.T) {
	t.Parallel()
	r := runDemoCLI(t, "--dir", filepath.Join(t.TempDir(), "demo"), "--customers", "3000").want(t, exitOK)
	m := regexp.MustCompile(`Why did customer (\S+) move\?`).FindStringSubmatchIndex(r.stdout)
	if m == nil {
		t.Fatalf("no \"Why did customer\" step:\n%s", r.stdout)
	}
	key := r.stdout[m[2]:m[3]]
	why, _, ok := strings.Cut(r.stdout[m[1]:], "\n[16/16]")
	if !ok {
		t.Fatalf("the explanation is not followed by step 16:\n%s", r.stdout)
	}
	queued := regexp.MustCompile(`(?m)^\d+\s+retail\s+winback_call\s+` + regexp.QuoteMeta(key) + `\s`)
	if !queued.MatchString(r.stdout) {
		t.Fatalf("the demo explains customer %s, whose win-back call the queue does not list:\n%s", key, r.stdout)
	}
	if !regexp.MustCompile(`(?m)^  winback_call\s+fired`).MatchString(why) || regexp.MustCompile(`(?m)^  winback_call\s+false`).MatchString(why) {
		t.Errorf("the queue lists a win-back call for customer %s, but its explanation does not show it fired:\n%s", key, why)
	}
	if !regexp.MustCompile(`run 2 moved `+regexp.QuoteMeta(key)+` .*queued winback_call`).MatchString(why) ||
		!strings.Contains(why, "the rules agree with the record") {
		t.Errorf("the explanation of customer %s does not say what run 2 recorded, and that today's evaluation agrees:\n%s", key, why)
	}
	if n := strings.Count(r.stdout, "Plan for rule set"); n != 2 {
		t.Errorf("the demo prints %d plans, want its 2 in full", n)
	}
	if n := strings.Count(r.stdout, "Apply for rule set"); n != 0 {
		t.Errorf("the demo prints %d apply reports in full, want a summary of each", n)
	}
	for run := 1; run <= 3; run++ {
		if !regexp.MustCompile(fmt.Sprintf(`(?m)^applied retail as run %d: [\d,]+ customers evaluated, [\d,]+ moved, [\d,]+ actions? queued, in \S+`, run)).MatchString(r.stdout) {
			t.Errorf("no summary of apply run %d:\n%s", run, r.stdout)
		}
	}
}
