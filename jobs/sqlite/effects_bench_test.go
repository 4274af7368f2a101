package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// BenchmarkEffects times the effects report of the quarter rule set on a
// SQLite file with 100,000 decisions of winback_call, one per customer
// over 30 days (30% held out), and 175,000 moves: every customer enters
// at_risk, half of them churn 30 days later and a quarter go back to
// active after 10. The file is built once, untimed; each iteration reads
// both streams and merges them. ns/decision is the time per decision:
//
//	go test -run '^$' -bench Effects -benchtime 5x ./jobs/sqlite/
func BenchmarkEffects(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a large database; not run with -short")
	}
	const n = 100_000
	ctx := context.Background()
	st := openStore(b, filepath.Join(b.TempDir(), "effects.db"), nil).Store
	if _, err := st.Migrate(ctx, false); err != nil {
		b.Fatal(err)
	}
	rs, err := rules.Compile("quarter.yaml", []byte(quarterRules), rules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	fillEffects(b, st, rs.Name, start, n)
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

// fillEffects writes n decisions and their moves in one transaction.
func fillEffects(b *testing.B, st *Store, ruleset string, start time.Time, n int) {
	b.Helper()
	tx, err := st.db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	act, err := tx.Prepare(`INSERT INTO main.actions (ruleset, action, customer_key, status, created_at, due_at, idempotency_key, run_id, segments)
		VALUES ($1, 'winback_call', $2, $3, $4, $4, $5, 1, '{"lifecycle":"at_risk"}')`)
	if err != nil {
		b.Fatal(err)
	}
	mv, err := tx.Prepare(`INSERT INTO main.history (ruleset, segmentation, customer_key, from_segment, to_segment, matched, reason, as_of, run_id)
		VALUES ($1, 'lifecycle', $2, $3, $4, $4, 'matched', $5, 1)`)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		key, d := fmt.Sprintf("c%07d", i), i%30
		at := formatTime(start.AddDate(0, 0, d))
		status := jobs.ActionPending
		if i%10 < 3 {
			status = jobs.ActionHeldOut
		}
		if _, err := act.Exec(ruleset, key, status, at, key); err != nil {
			b.Fatal(err)
		}
		moves := [][3]any{{"active", "at_risk", at}}
		switch i % 4 {
		case 0, 2:
			moves = append(moves, [3]any{"at_risk", "churned", formatTime(start.AddDate(0, 0, d+30))})
		case 1:
			moves = append(moves, [3]any{"at_risk", "active", formatTime(start.AddDate(0, 0, d+10))})
		}
		for _, m := range moves {
			if _, err := mv.Exec(ruleset, key, m[0], m[1], m[2]); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
