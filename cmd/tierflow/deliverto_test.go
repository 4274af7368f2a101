package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tierflow/tierflow/jobs/kernel"
)

// undeclaredProject writes a project whose rule file delivers to hokk,
// while the config declares hook, and returns the config path.
func undeclaredProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"rules/shop.yaml": strings.Replace(hookRules, "%s", "hokk", 1),
		"facts.csv":       "customer_id,spend_12m\n1,1500\n",
		"tierflow.yaml": "database: {path: state.db}\nrulesets:\n  - rules: rules/shop.yaml\n    source: {file: facts.csv}\n    initial_actions: true\n" +
			"destinations:\n  hook: {type: file, path: out.jsonl}\n",
	})
	return filepath.Join(dir, "tierflow.yaml")
}

// check and apply stop at a deliver_to naming no declared destination,
// positioned in the rule file with a did-you-mean; apply writes nothing.
func TestDeliverToUndeclaredCheckApply(t *testing.T) {
	t.Parallel()
	config := undeclaredProject(t)
	rulesFile := filepath.Join(filepath.Dir(config), "rules", "shop.yaml")
	wants := []string{`rules/shop.yaml:15:17: actions.vip_welcome.deliver_to: unknown destination "hokk"`, `did you mean "hook"?`}
	for _, args := range [][]string{
		{"check", "--config", config, rulesFile},
		{"check", "--db", "--config", config},
		{"apply", "--quiet", "--config", config, "--as-of", "2024-07-01"},
	} {
		t.Run(args[0]+" "+args[1], func(t *testing.T) {
			r := runCLI(t, nil, args...).want(t, exitFailure)
			for _, want := range wants {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(config), "state.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused apply created the state database (%v)", err)
	}
	// Without a config, check has no destinations to hold deliver_to to.
	runCLI(t, nil, "check", rulesFile).want(t, exitOK)
}

// fakeQueue answers QueueStats with stats, or err.
type fakeQueue struct {
	stats map[string]kernel.QueueStat
	err   error
	now   time.Time
}

func (f *fakeQueue) QueueStats(_ context.Context, now time.Time) (map[string]kernel.QueueStat, error) {
	f.now = now
	return f.stats, f.err
}

// The queue gauges are read at scrape time: every configured destination
// at zero, depth by status, the oldest due action's age from the scrape;
// a failed read is counted and the scrape goes on.
func TestQueueMetrics(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	q := &fakeQueue{stats: map[string]kernel.QueueStat{
		"hook": {Pending: 3, Claimed: 1, Dead: 2, OldestDue: now.Add(-90 * time.Second)},
		"gone": {Pending: 1},
	}}
	reg := prometheus.NewRegistry()
	registerQueueMetrics(reg, q, []string{"hook", "spare"}, func() time.Time { return now })
	want := `
# HELP tierflow_delivery_oldest_due_age_seconds Seconds since the oldest due pending action of a destination was due; 0 when none is due.
# TYPE tierflow_delivery_oldest_due_age_seconds gauge
tierflow_delivery_oldest_due_age_seconds{destination="gone"} 0
tierflow_delivery_oldest_due_age_seconds{destination="hook"} 90
tierflow_delivery_oldest_due_age_seconds{destination="spare"} 0
# HELP tierflow_delivery_queue_depth Actions waiting for delivery (pending) or being delivered (claimed), by destination.
# TYPE tierflow_delivery_queue_depth gauge
tierflow_delivery_queue_depth{destination="gone",status="claimed"} 0
tierflow_delivery_queue_depth{destination="gone",status="pending"} 1
tierflow_delivery_queue_depth{destination="hook",status="claimed"} 1
tierflow_delivery_queue_depth{destination="hook",status="pending"} 3
tierflow_delivery_queue_depth{destination="spare",status="claimed"} 0
tierflow_delivery_queue_depth{destination="spare",status="pending"} 0
# HELP tierflow_delivery_queue_stats_errors_total Scrapes whose read of the action queue failed.
# TYPE tierflow_delivery_queue_stats_errors_total counter
tierflow_delivery_queue_stats_errors_total 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if !q.now.Equal(now) {
		t.Errorf("QueueStats was asked as of %s, want the scrape time %s", q.now, now)
	}

	q.err = errors.New("database is gone")
	errWant := `
# HELP tierflow_delivery_queue_stats_errors_total Scrapes whose read of the action queue failed.
# TYPE tierflow_delivery_queue_stats_errors_total counter
tierflow_delivery_queue_stats_errors_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(errWant)); err != nil {
		t.Error(err)
	}
}
