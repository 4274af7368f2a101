package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

// effectsBenchRules is a lifecycle with churn and a held-out, costed
// win-back call, as the SQLite store's simulated quarter has.
const effectsBenchRules = `
ruleset: quarter
facts:
  last_order_at: time
segmentations:
  - name: lifecycle
    segments:
      - {name: churned, when: days_since(last_order_at) > 60}
      - {name: at_risk, when: days_since(last_order_at) > 30}
      - {name: active, fallback: true}
churn: lifecycle.churned
actions:
  - name: winback_call
    when: entered("lifecycle", "at_risk")
    holdout: 30%
    cost: 5
    cooldown: 365d
`

// effectsBenchFill writes 100,000 decisions of winback_call, one per
// customer over 30 days (30% held out), and 175,000 moves: every
// customer enters at_risk, half of them churn 30 days later and a
// quarter go back to active after 10. $1 is the first day.
var effectsBenchFill = []string{
	`INSERT INTO tierflow.actions (ruleset, action, customer_key, status, created_at, due_at, idempotency_key, run_id, segments)
	SELECT 'quarter', 'winback_call', 'c' || lpad(i::text, 7, '0'), CASE WHEN i % 10 < 3 THEN 'held_out' ELSE 'pending' END,
	    $1::timestamptz + (i % 30) * interval '1 day', $1::timestamptz + (i % 30) * interval '1 day', 'c' || i, 1, '{"lifecycle": "at_risk"}'
	FROM generate_series(0, 99999) i`,
	`INSERT INTO tierflow.history (ruleset, segmentation, customer_key, from_segment, to_segment, matched, reason, as_of, run_id)
	SELECT 'quarter', 'lifecycle', 'c' || lpad(i::text, 7, '0'), 'active', 'at_risk', 'at_risk', 'matched', $1::timestamptz + (i % 30) * interval '1 day', 1
	FROM generate_series(0, 99999) i`,
	`INSERT INTO tierflow.history (ruleset, segmentation, customer_key, from_segment, to_segment, matched, reason, as_of, run_id)
	SELECT 'quarter', 'lifecycle', 'c' || lpad(i::text, 7, '0'), 'at_risk', CASE WHEN i % 4 = 1 THEN 'active' ELSE 'churned' END, 'x', 'matched',
	    $1::timestamptz + (i % 30 + CASE WHEN i % 4 = 1 THEN 10 ELSE 30 END) * interval '1 day', 1
	FROM generate_series(0, 99999) i WHERE i % 4 <> 3`,
}

// BenchmarkEffects times the effects report of 100,000 decisions and
// their moves on PostgreSQL: both streams sorted by key in byte order
// (COLLATE "C"), read at once on two connections, and merged.
// ns/decision is the time per decision:
//
//	go test -run '^$' -bench Effects -benchtime 5x ./jobs/postgres/
func BenchmarkEffects(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	st, err := postgres.Open(ctx, postgres.Config{URL: pgtest.URL(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx, false); err != nil {
		b.Fatal(err)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, q := range append(effectsBenchFill, `ANALYZE tierflow.actions`, `ANALYZE tierflow.history`) {
		var args []any
		if q[0] == 'I' {
			args = []any{start}
		}
		if _, err := st.DB().ExecContext(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	rs, err := rules.Compile("quarter.yaml", []byte(effectsBenchRules), rules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	opts := jobs.EffectsOptions{From: start, Until: start.AddDate(0, 0, 90), Latest: start.AddDate(0, 0, 120)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := jobs.Effects(ctx, st, rs, opts)
		if err != nil || len(rep.Effects) != 3 || rep.Effects[0].Treated+rep.Effects[0].HeldOut != n {
			b.Fatalf("%v: %+v", err, rep)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/decision")
}
