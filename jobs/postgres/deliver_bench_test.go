package postgres_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/destinations/webhook"
	"github.com/tierflow/tierflow/rules"
)

const deliverBenchRules = `ruleset: deliver
key: id
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend >= 100
      - name: small
        fallback: true
actions:
  - name: hello
    when: segment.tier == "small"
    deliver_to: hook
`

// countDone closes done once want actions were delivered.
type countDone struct {
	want int64
	n    atomic.Int64
	done chan struct{}
}

func (c *countDone) OnAttempt(_ string, _ *jobs.Delivery, _ jobs.DeliveryOutcome, _ time.Duration, final string) {
	if final == jobs.ActionDone && c.n.Add(1) == c.want {
		close(c.done)
	}
}

func (c *countDone) OnQueueError(string, string, error) {}

type noopDestination struct{}

func (noopDestination) Deliver(context.Context, *jobs.Delivery) jobs.DeliveryOutcome {
	return jobs.DeliveryOutcome{}
}

// BenchmarkDeliver queues TIERFLOW_BENCH_ACTIONS actions (default 5,000)
// on PostgreSQL and delivers them all with a Worker of 8: to a local
// webhook receiver (signed requests over HTTP), and to a destination that
// does nothing, whose time is the queue's own cost (claim, finish, the
// attempt record). It reports deliveries per second and microseconds per
// action; each iteration puts the queue back first (untimed).
func BenchmarkDeliver(b *testing.B) {
	n := 5000
	if s := os.Getenv("TIERFLOW_BENCH_ACTIONS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	ctx := context.Background()
	s := newStore(b, 0)
	exec(b, s, `CREATE TABLE f (id text PRIMARY KEY, spend float8)`)
	exec(b, s, `INSERT INTO f SELECT g::text, 5 FROM generate_series(1, $1) g`, n)
	rs, err := rules.Compile("deliver.yaml", []byte(deliverBenchRules), rules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	o := opts()
	o.InitialActions = true
	o.Guard.MaxActions = 0
	if _, err := jobs.Apply(ctx, s, s.Source("f"), rs, o); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	hook, err := webhook.New(webhook.Config{URL: srv.URL, Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}})
	if err != nil {
		b.Fatal(err)
	}
	for _, dest := range []struct {
		name string
		d    jobs.Destination
	}{{"webhook", hook}, {"noop", noopDestination{}}} {
		b.Run(fmt.Sprintf("to=%s/actions=%d", dest.name, n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				exec(b, s, `DELETE FROM tierflow.action_attempts`)
				exec(b, s, `UPDATE tierflow.actions SET status = 'pending', attempts = 0, lease_owner = NULL, lease_until = NULL, due_at = created_at`)
				obs := &countDone{want: int64(n), done: make(chan struct{})}
				w := &jobs.Worker{Queue: s, Destinations: map[string]jobs.Destination{"hook": dest.d}, Concurrency: 8, Owner: "bench", Observer: obs}
				runCtx, cancel := context.WithCancel(ctx)
				b.StartTimer()
				ran := make(chan error, 1)
				go func() { ran <- w.Run(runCtx) }()
				select {
				case <-obs.done:
				case err := <-ran:
					b.Fatalf("the worker stopped: %v", err)
				}
				b.StopTimer()
				cancel()
				if err := <-ran; err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if left := count(b, s, `SELECT count(*) FROM tierflow.actions WHERE status <> 'done'`); left != 0 {
				b.Fatalf("%d actions not done", left)
			}
			per := b.Elapsed() / time.Duration(b.N*n)
			b.ReportMetric(float64(time.Second)/float64(per), "deliveries/s")
			b.ReportMetric(float64(per)/float64(time.Microsecond), "µs/action")
		})
	}
}
