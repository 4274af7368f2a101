package kernel_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// nextStager is the apply transaction of the PostgreSQL store, which can
// stage what the database decides (kernel.NextApply).
type nextStager interface {
	StageNext(ctx context.Context, src string, noActions bool, plan *engine.Plan) (keys []string, why string, err error)
}

// An apply that stages in the database what the whole-evaluation
// statement decides (kernel.NextApply) writes what the engine's apply
// writes: two databases with the same facts, one applied by the engine,
// the other staged in SQL and committed, have after every night the same
// state rows (segments, since and pending-since dates, reasons, run ids,
// action times), the same history and the same queued actions (payload,
// priority, due time, idempotency key, destination, segments), and the
// run's counts (segment sizes, moves, actions) are the engine's. The
// marks differ by design: the statement does not compute wake-up times.
func TestNextApplyIsTheApply(t *testing.T) {
	ctx := context.Background()
	engineDB, sqlDB := factsStore(t, 3000), factsStore(t, 3000)
	rs := storetest.RetailRuleSet(t, append(append([]string{}, storetest.WithoutCoverage...), wholeRetail...)...)
	facts := jobs.FactsByRuleSet{rs.Name: engineDB.Source("customer_facts")}
	src, err := sqlDB.Source("customer_facts").SQL()
	if err != nil {
		t.Fatal(err)
	}
	o := storetest.Options()
	o.Guard.AllowLarge = true
	o.Guard.MaxErrorRate = 1
	start := o.AsOf
	var moves, queued, marked, samples int
	before := map[string]string{}
	for n, day := range []int{0, 3, 17, 40, 95, 110, 130, 400} {
		o.AsOf = start.AddDate(0, 0, day)
		if n > 0 {
			for _, s := range []*postgres.Store{engineDB, sqlDB} {
				exec(t, s, fmt.Sprintf(`UPDATE customer_facts SET spend_12m = CASE customer_id %% 3 WHEN 0 THEN spend_12m * 0.4 WHEN 1 THEN spend_12m * 2.5 ELSE spend_12m END,
					last_order_at = last_order_at + interval '%d days' * (customer_id %% 2)`, day))
			}
		}
		out, err := jobs.Apply(ctx, engineDB, facts, rs, o)
		if err != nil {
			t.Fatal(err)
		}
		info := jobs.RunInfo{RuleSet: rs.Name, RulesHash: rs.Hash, AsOf: o.AsOf, Started: time.Now()}
		if info.ID, err = sqlDB.StartRun(ctx, info, "apply"); err != nil {
			t.Fatal(err)
		}
		if info.ID != out.RunID {
			t.Fatalf("night %d: run %d in the engine's database, %d in the other", n, out.RunID, info.ID)
		}
		tx, err := sqlDB.BeginApply(ctx, rs, info)
		if err != nil {
			t.Fatal(err)
		}
		plan := engine.NewPlan(rs)
		keys, why, err := tx.(nextStager).StageNext(ctx, src, n == 0, plan)
		if err != nil || why != "" {
			t.Fatalf("night %d: %v %s", n, err, why)
		}
		if len(keys) > 0 {
			t.Fatalf("night %d: %d customers left to the engine, which this test does not evaluate (%s ...)", n, len(keys), keys[0])
		}
		if err := tx.Commit(ctx, jobs.RunSummary{Status: jobs.StatusSucceeded, Finished: time.Now()}); err != nil {
			t.Fatal(err)
		}
		night := fmt.Sprintf("night %d (%s)", n, o.AsOf.Format(time.DateOnly))
		// Its counts are the engine's: sizes, moves, actions.
		rep := jobs.NewPlanReport(plan, "apply", o.AsOf, n == 0)
		for _, c := range []struct {
			what      string
			got, want any
		}{{"customers", rep.Customers, out.Report.Customers}, {"changed", rep.Changed, out.Report.Changed}, {"actions", rep.ActionsTotal, out.Report.ActionsTotal},
			{"segmentations", rep.Segmentations, out.Report.Segmentations}, {"actions by name", rep.Actions, out.Report.Actions}} {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Fatalf("%s: %s counted in SQL %+v, by the engine %+v", night, c.what, c.got, c.want)
			}
		}
		// Its samples are moves the run made.
		if len(rep.Samples) != len(out.Report.Samples) {
			t.Fatalf("%s: %d samples, the engine's run %d", night, len(rep.Samples), len(out.Report.Samples))
		}
		for _, s := range plan.Samples {
			if count(t, sqlDB, `SELECT count(*) FROM tierflow.history WHERE run_id = $1 AND segmentation = $2 AND customer_key = $3
				AND from_segment IS NOT DISTINCT FROM nullif($4, '') AND to_segment = $5 AND reason = $6`, info.ID, s.Segmentation, s.Key, s.From, s.To, s.Reason.String()) != 1 {
				t.Fatalf("%s: sample %+v is not a move of the run", night, s)
			}
		}
		samples += len(plan.Samples)
		sameRows(t, night+": state", engineDB, sqlDB, `SELECT customer_key, segments::text, since::text, pending_since::text, reasons::text, run_ids::text, action_at::text
			FROM tierflow.customer_state WHERE ruleset = $1`, rs.Name)
		moves = sameRows(t, night+": history", engineDB, sqlDB, `SELECT segmentation, customer_key, from_segment, to_segment, matched, reason, as_of::text, run_id
			FROM tierflow.history WHERE ruleset = $1`, rs.Name)
		queued = sameRows(t, night+": queue", engineDB, sqlDB, `SELECT idempotency_key, action, customer_key, payload::text, priority, created_at::text, due_at::text, run_id,
			destination, status, note, segments::text FROM tierflow.actions WHERE ruleset = $1`, rs.Name)
		// The digests it staged are the facts', as the engine's marks have
		// them (but on a first run, whose engine marks have none: its
		// dropped actions may fire on the next). The customers it did not
		// stage keep the digest of an earlier night.
		digests := map[string]string{}
		for _, r := range rowsOf(t, engineDB, `SELECT customer_key, facts_digest FROM tierflow.customer_state WHERE ruleset = $1 AND facts_digest IS NOT NULL`, rs.Name) {
			k, d, _ := strings.Cut(r, " | ")
			digests[k] = d
		}
		now := map[string]string{}
		for _, r := range rowsOf(t, sqlDB, `SELECT customer_key, facts_digest FROM tierflow.customer_state WHERE ruleset = $1 AND wake_at = 'epoch'`, rs.Name) {
			k, d, _ := strings.Cut(r, " | ")
			now[k] = d
			if want, ok := digests[k]; ok && d != before[k] {
				if d != want {
					t.Fatalf("%s: customer %s staged with digest %s, the engine's is %s", night, k, d, want)
				}
				marked++
			}
		}
		before = now
	}
	t.Logf("8 nights alike: after them %d history rows and %d queued actions; %d staged digests and %d samples checked", moves, queued, marked, samples)
	if moves == 0 || queued == 0 || marked == 0 {
		t.Fatal("the nights moved nobody, queued nothing or compared no digest")
	}
}

// sameRows fails t unless query, with args, returns the same rows in both
// stores, and returns how many there are.
func sameRows(t *testing.T, what string, want, got *postgres.Store, query string, args ...any) int {
	t.Helper()
	w, g := rowsOf(t, want, query, args...), rowsOf(t, got, query, args...)
	if slices.Equal(w, g) {
		return len(w)
	}
	var missing, extra []string
	for _, r := range w {
		if _, ok := slices.BinarySearch(g, r); !ok {
			missing = append(missing, r)
		}
	}
	for _, r := range g {
		if _, ok := slices.BinarySearch(w, r); !ok {
			extra = append(extra, r)
		}
	}
	t.Fatalf("%s: %d rows from the engine's apply, %d staged in SQL; %d only in the engine's, e.g. %v; %d only in SQL's, e.g. %v",
		what, len(w), len(g), len(missing), head(missing), len(extra), head(extra))
	return 0
}

func head(rows []string) []string { return rows[:min(3, len(rows))] }

// rowsOf is the sorted rows of query, each its columns' text joined by
// " | " (NULL as "<null>").
func rowsOf(t *testing.T, s *postgres.Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.DB().Query(query, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	vals := make([]any, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				parts[i] = "<null>"
			case []byte:
				parts[i] = string(v)
			default:
				parts[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(parts, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func count(t *testing.T, s *postgres.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	return n
}
