package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// TestReloadKeepsLastGoodRules: a rule file that fails check is rejected
// and the scheduler keeps the previous version; a good edit replaces it.
func TestReloadKeepsLastGoodRules(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../examples/retail/retail.yaml")
	if err != nil {
		t.Fatal(err)
	}
	good := strings.Replace(string(src), "params:\n", "schedule: {cron: \"0 2 * * *\", timezone: Asia/Shanghai}\n\nparams:\n", 1)
	path := filepath.Join(dir, "retail.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(good)
	loaded := rules.LoadFiles([]string{path}, ruleOptions())
	if err := loaded.Err(); err != nil {
		t.Fatal(err)
	}
	rs := loaded.RuleSets[0]
	cfg := &config{dir: dir, RuleSets: []ruleSetConfig{{Rules: "retail.yaml", Sources: []sourceConfig{{Query: "customer_facts"}}}}}
	sched := &jobs.Scheduler{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := sched.Set(rs, jobs.Options{}); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	m := newMetrics(prometheus.NewRegistry())
	rl := &reloader{cfg: cfg, wiring: &wiring{}, sched: sched, metrics: m, logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		sets: []configured{{rs: rs, cfg: &cfg.RuleSets[0]}}}

	steps := []struct {
		name     string
		content  string
		accepted bool
		logWants string
	}{
		{"a typo fails check", strings.Replace(good, "params.key_spend", "params.key_spendd", 1), false, `did you mean \"key_spend\"?`},
		{"a bad schedule fails check", strings.Replace(good, "Asia/Shanghai", "Asia/Shanghia", 1), false, "unknown time zone"},
		{"a good edit is taken", strings.Replace(good, "key_spend: 10000", "key_spend: 12000", 1), true, "rule file reloaded"},
	}
	for _, st := range steps {
		before := sched.RuleSet("retail").Hash
		write(st.content)
		rl.reload(context.Background(), 0)
		after := sched.RuleSet("retail").Hash
		if st.accepted == (before == after) {
			t.Fatalf("%s: accepted=%v, but hash before %s after %s", st.name, st.accepted, before[:8], after[:8])
		}
		if !strings.Contains(logs.String(), st.logWants) {
			t.Fatalf("%s: log lacks %q:\n%s", st.name, st.logWants, logs.String())
		}
	}
	if got := testutil.ToFloat64(m.reloadsFailed.WithLabelValues(path)); got != 2 {
		t.Fatalf("reload failures metric = %v, want 2", got)
	}
}

// reloadFixture is a reloader of the retail rule set (scheduled) from a
// file in a temporary directory, logging JSON to logs.
type reloadFixture struct {
	rl   *reloader
	path string
	good string
	logs *bytes.Buffer
}

func newReloadFixture(t *testing.T) *reloadFixture {
	t.Helper()
	src, err := os.ReadFile(retailRules)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &reloadFixture{path: filepath.Join(dir, "retail.yaml"), logs: &bytes.Buffer{},
		good: strings.Replace(string(src), "params:\n", "schedule: {cron: \"0 2 * * *\", timezone: Asia/Shanghai}\n\nparams:\n", 1)}
	f.write(t, f.good)
	loaded := rules.LoadFiles([]string{f.path}, ruleOptions())
	if err := loaded.Err(); err != nil {
		t.Fatal(err)
	}
	rs := loaded.RuleSets[0]
	cfg := &config{dir: dir, RuleSets: []ruleSetConfig{{Rules: "retail.yaml", Sources: []sourceConfig{{Query: "customer_facts"}}}}}
	sched := &jobs.Scheduler{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := sched.Set(rs, jobs.Options{}); err != nil {
		t.Fatal(err)
	}
	f.rl = &reloader{cfg: cfg, wiring: &wiring{}, sched: sched, metrics: newMetrics(prometheus.NewRegistry()),
		logger: slog.New(slog.NewJSONHandler(f.logs, nil)), sets: []configured{{rs: rs, cfg: &cfg.RuleSets[0]}}}
	return f
}

func (f *reloadFixture) write(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(f.path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// lines returns the lines logged since the last call, parsed.
func (f *reloadFixture) lines(t *testing.T) []map[string]any {
	t.Helper()
	lines := jsonLogLines(t, f.logs.String())
	f.logs.Reset()
	return lines
}

// one wants exactly one line logged since the last call, with msg, and
// returns it.
func (f *reloadFixture) one(t *testing.T, msg string) map[string]any {
	t.Helper()
	lines := f.lines(t)
	if len(lines) != 1 || lines[0]["msg"] != msg {
		t.Fatalf("want one line %q, got %v", msg, lines)
	}
	return lines[0]
}

// lineOf is the 1-based line of the first occurrence of s in text.
func lineOf(text, s string) int {
	return strings.Count(text[:strings.Index(text, s)], "\n") + 1
}

// Each reload logs what it did: the rules loaded, with their hash and
// whether they changed; a rejected file, with its first error and where
// it is, and that the last good version keeps running; a rejected file
// put back, that it is loaded again. SIGHUP logs its outcome.
func TestReloadLogs(t *testing.T) {
	t.Parallel()
	f := newReloadFixture(t)
	ctx := context.Background()
	running := func() string { return f.rl.sched.RuleSet("retail").Hash }
	first := running()

	edited := strings.Replace(f.good, "key_spend: 10000", "key_spend: 12000", 1)
	f.write(t, edited)
	if out := f.rl.reload(ctx, 0); out != reloadChanged {
		t.Fatalf("a good edit: outcome %v", out)
	}
	l := f.one(t, "rule file reloaded")
	if l["ruleset"] != "retail" || l["file"] != f.path || l["rules_hash"] != running() || l["previous_hash"] != first || l["changed"] != true || l["after_rejection"] != false || running() == first {
		t.Errorf("a good edit logged %v", l)
	}

	broken := strings.Replace(edited, "params.key_spend", "params.key_spendd", 1)
	f.write(t, broken)
	if out := f.rl.reload(ctx, 0); out != reloadRejected {
		t.Fatalf("a typo: outcome %v", out)
	}
	l = f.one(t, "rule file rejected; the last good version keeps running")
	pos := fmt.Sprintf("%s:%d:", f.path, lineOf(broken, "params.key_spendd"))
	errText, _ := l["error"].(string)
	if !strings.HasPrefix(fmt.Sprint(l["position"]), pos) || !strings.HasPrefix(errText, fmt.Sprint(l["position"])+": ") ||
		!strings.Contains(errText, `did you mean "key_spend"?`) || strings.Contains(errText, "\n") || l["running_hash"] != running() || l["level"] != "ERROR" {
		t.Errorf("a typo logged %v; want position %s... and the first error on one line", l, pos)
	}

	f.write(t, edited) // the file put back as it was
	if out := f.rl.reload(ctx, 0); out != reloadUnchanged {
		t.Fatalf("the file put back: outcome %v", out)
	}
	l = f.one(t, "rule file loaded again after its rejection")
	if l["rules_hash"] != running() || l["changed"] != false || l["after_rejection"] != true || l["file"] != f.path {
		t.Errorf("the file put back logged %v", l)
	}
	f.rl.reload(ctx, 0)
	if l = f.one(t, "rule file unchanged"); l["rules_hash"] != running() || l["changed"] != false || l["after_rejection"] != false {
		t.Errorf("a reload of the same file logged %v", l)
	}

	// Rejected, then fixed otherwise: a change, after a rejection.
	f.write(t, broken)
	f.rl.reload(ctx, 0)
	f.lines(t)
	f.write(t, f.good)
	if out := f.rl.reload(ctx, 0); out != reloadChanged {
		t.Fatalf("a fix after a rejection: outcome %v", out)
	}
	if l = f.one(t, "rule file reloaded"); l["changed"] != true || l["after_rejection"] != true || l["rules_hash"] != first {
		t.Errorf("a fix after a rejection logged %v", l)
	}

	f.rl.onSIGHUP(ctx)
	lines := f.lines(t)
	if len(lines) != 3 || lines[0]["msg"] != "SIGHUP: reloading rule files" || lines[1]["msg"] != "rule file unchanged" ||
		lines[2]["msg"] != "SIGHUP: rule files reloaded" || fmt.Sprint(lines[2]["unchanged"]) != "[retail]" || fmt.Sprint(lines[2]["rejected"]) != "[]" {
		t.Errorf("SIGHUP with nothing changed logged %v", lines)
	}
	f.write(t, broken)
	f.rl.onSIGHUP(ctx)
	lines = f.lines(t)
	if len(lines) != 3 || lines[2]["msg"] != "SIGHUP: rule files reloaded" || fmt.Sprint(lines[2]["rejected"]) != "[retail]" || lines[2]["level"] != "WARN" {
		t.Errorf("SIGHUP with a broken file logged %v", lines)
	}
}
