package main

import (
	"context"
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
