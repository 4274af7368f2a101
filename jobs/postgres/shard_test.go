package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/postgres"
	"github.com/tierflow/tierflow/rules"
)

// The database computes the shard of a key as jobs.ShardOf does, for keys
// of every kind a source may give (digits, text, multi-byte characters,
// the empty key) and counts up to MaxShards: the query a shard reads and
// the filter tierflow keeps agree.
func TestShardHashMatchesGo(t *testing.T) {
	t.Parallel()
	s := newStore(t, 0)
	var keys []string
	for i := range 2000 {
		keys = append(keys, fmt.Sprint(i*7919), fmt.Sprintf("C-%06d", i))
	}
	keys = append(keys, "", "客户-42", "ü", "a b", "x\u00a0y", strings.Repeat("k", 300), "😀")
	for _, n := range []int{1, 2, 3, 4, 7, 16, jobs.MaxShards} {
		var got []int
		if err := s.DB().Select(&got, `SELECT ('x' || substr(md5(k), 1, 8))::bit(32)::bigint % $2
			FROM unnest($1::text[]) WITH ORDINALITY AS u(k, i) ORDER BY i`, keysArray(keys), n); err != nil {
			t.Fatal(err)
		}
		counts := make([]int, n)
		for i, k := range keys {
			want := jobs.ShardOf(k, n)
			if got[i] != want {
				t.Fatalf("shard of %q among %d: PostgreSQL %d, Go %d", k, n, got[i], want)
			}
			counts[want]++
		}
		if n == 4 {
			for i, c := range counts {
				// 4,007 keys: each shard gets about a quarter.
				if c < 850 || c > 1150 {
					t.Errorf("shard %d of 4 holds %d of %d keys; the hash does not spread them", i, c, len(keys))
				}
			}
		}
	}
}

// keysArray is keys as a PostgreSQL text[] literal.
func keysArray(keys []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// applyShards runs the n shards of one apply at once, each on its own
// store (its own connections, as separate processes have), and returns
// their outcomes and errors by shard.
func applyShards(t *testing.T, url string, rs *rules.RuleSet, n int, o jobs.Options) ([]*jobs.Outcome, []error) {
	t.Helper()
	outs, errs := make([]*jobs.Outcome, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		s, err := postgres.Open(context.Background(), postgres.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.Close()
			o := o
			o.Shard = jobs.Shard{Index: i, Count: n}
			outs[i], errs[i] = jobs.Apply(context.Background(), s, facts(s), rs, o)
		}()
	}
	wg.Wait()
	return outs, errs
}

// Four shards applied at once over three nights (the first run, then
// facts that move many customers and queue actions, then customers who
// arrive and leave) leave the same state, history and queue as one
// unsharded apply of each night; each night has a parent run, succeeded,
// with the shards' totals, and the shards split the customers.
func TestShardedApplyEqualsUnsharded(t *testing.T) {
	t.Parallel()
	const n = 3000
	control := newStore(t, n)
	sharded, url := newStoreURL(t, n)
	rs := retail(t)
	o := opts()
	o.Guard.AllowLarge = true
	nights := []func(s *postgres.Store){
		func(*postgres.Store) {},
		func(s *postgres.Store) { shiftFacts(t, s) },
		func(s *postgres.Store) {
			exec(t, s, `DELETE FROM customer_facts WHERE customer_id % 97 = 0`)
			insertCustomers(t, s, n+1, 200)
		},
	}
	for night, change := range nights {
		change(control)
		change(sharded)
		want := applyAt(t, control, rs, day(night), o)
		o.AsOf = day(night)
		outs, errs := applyShards(t, url, rs, 4, o)
		customers, changed, actions := 0, 0, 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("night %d: shard %d/4: %v", night, i, err)
			}
			r := outs[i].Report
			if r.Shard != fmt.Sprintf("%d/4", i) || r.Initial != want.Report.Initial {
				t.Fatalf("night %d: shard %d/4 reports shard %q, initial %v; want initial %v", night, i, r.Shard, r.Initial, want.Report.Initial)
			}
			customers, changed, actions = customers+r.Customers, changed+r.Changed, actions+r.ActionsTotal
		}
		if customers != want.Report.Customers || changed != want.Report.Changed || actions != want.Report.ActionsTotal {
			t.Fatalf("night %d: the shards evaluated %d customers, %d changed, %d actions; the unsharded apply %d, %d, %d",
				night, customers, changed, actions, want.Report.Customers, want.Report.Changed, want.Report.ActionsTotal)
		}
		if night == 1 && (changed == 0 || actions == 0) {
			t.Fatalf("night 1 moved %d customers and queued %d actions: the test compares nothing", changed, actions)
		}
		sameDigests(t, fmt.Sprintf("night %d: state after 4 shards against one apply", night), outcomeDigest(t, sharded), outcomeDigest(t, control))
		// The shards kept the state tally by turns, each adding its rows.
		if err := sharded.CheckTally(context.Background(), "retail"); err != nil {
			t.Fatalf("night %d: %v", night, err)
		}
		var parent struct {
			Status    string `db:"status"`
			Customers int    `db:"customers"`
			Changed   int    `db:"changed"`
			Actions   int    `db:"actions"`
			Shards    int    `db:"shards"`
		}
		if err := sharded.DB().Get(&parent, `SELECT status, customers, changed, actions, count(*) OVER () AS shards FROM tierflow.runs
			WHERE kind = 'sharded' AND as_of = $1`, day(night)); err != nil {
			t.Fatal(err)
		}
		if parent.Status != "succeeded" || parent.Customers != customers || parent.Changed != changed || parent.Actions != actions || parent.Shards != 1 {
			t.Fatalf("night %d: parent run %+v; want one, succeeded, of %d customers, %d changed, %d actions", night, parent, customers, changed, actions)
		}
		// The parent holds the whole run's report: what reads the latest
		// run (tierflow coverage, the metrics) reads the unsharded figures.
		sameWholeReport(t, night, sharded, want.Report)
		if got := count(t, sharded, `SELECT count(DISTINCT r.shard) FROM tierflow.runs r JOIN tierflow.runs p ON p.id = r.parent_id
			WHERE p.as_of = $1 AND r.status = 'succeeded'`, day(night)); got != 4 {
			t.Fatalf("night %d: %d shards succeeded under the parent, want 4", night, got)
		}
	}
	noDuplicateActions(t, sharded)
	// An unsharded apply after the sharded nights builds on the last
	// parent: its population guard compares with the parent's total.
	out := applyAt(t, sharded, rs, day(len(nights)), opts())
	if p := out.Report.Guard.PreviousRun; p == nil || p.Shard != "" || p.Customers != int64(out.Report.Customers) {
		t.Fatalf("the unsharded apply after sharded ones compared with %+v; want the last parent run, of %d customers", p, out.Report.Customers)
	}
}

// Each shard keeps within the guard's limits, but together they queue
// more actions than max_actions allows: the shards' writes stand, and
// the parent run is flagged with the reason.
func TestShardTotalsFlagParent(t *testing.T) {
	t.Parallel()
	s, url := newStoreURL(t, 3000)
	rs := retail(t)
	o := opts()
	o.Guard.AllowLarge = true
	applyAt(t, s, rs, day(0), o)
	shiftFacts(t, s)
	plan, err := jobs.Plan(context.Background(), s, facts(s), rs, func() jobs.Options { o := o; o.AsOf = day(1); return o }())
	if err != nil {
		t.Fatal(err)
	}
	total := plan.Report.ActionsTotal
	if total < 40 {
		t.Fatalf("the night queues %d actions: too few to split", total)
	}
	o.Guard = jobs.DefaultGuard
	o.Guard.MaxMovedShare = 1 // every channel moves
	o.Guard.MaxActions = total/2 + 1
	o.AsOf = day(1)
	outs, errs := applyShards(t, url, rs, 4, o)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("shard %d/4: %v (queued %d)", i, err, outs[i].Report.ActionsTotal)
		}
	}
	var status, reason string
	if err := s.DB().QueryRow(`SELECT status, coalesce(error, '') FROM tierflow.runs WHERE kind = 'sharded' AND as_of = $1`, day(1)).Scan(&status, &reason); err != nil {
		t.Fatal(err)
	}
	if status != "flagged" || !strings.Contains(reason, fmt.Sprintf("queued %d actions, more than the limit of %d", total, o.Guard.MaxActions)) {
		t.Fatalf("parent run %s: %q; want flagged for %d actions over %d", status, reason, total, o.Guard.MaxActions)
	}
	if got := count(t, s, `SELECT count(*) FROM tierflow.actions WHERE created_at = $1`, day(1)); got != total {
		t.Fatalf("%d actions queued, want the shards' %d: a flagged run's writes stand", got, total)
	}
}

// A shard does not start while an unsharded apply, the same shard, or a
// shard of another split of the rule set holds its lock; it is recorded
// as skipped. A shard on SQLite-like stores is refused before it starts
// (jobs.ErrNoShards: see the jobs tests).
func TestShardLocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, 300)
	rs := retail(t)
	o := opts()
	hold := func(t *testing.T, lock string, args ...any) func() {
		t.Helper()
		tx, err := s.DB().Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(lock, args...); err != nil {
			t.Fatal(err)
		}
		return func() { tx.Rollback() }
	}
	shardKey := "tierflow-shards:tierflow:retail"
	for _, c := range []struct {
		name, lock string
		args       []any
		want       string
	}{
		{"unsharded apply", `SELECT pg_advisory_xact_lock(hashtext('tierflow:tierflow'), hashtext('retail'))`, nil, "an unsharded apply of it is running"},
		{"same shard", `SELECT pg_advisory_xact_lock(hashtext($1), $2)`, []any{shardKey, 4<<16 | 1}, "shard 1/4 of it is running"},
		{"other split", `SELECT pg_advisory_xact_lock(hashtext($1), $2)`, []any{shardKey, 2 << 16 /* count 2, index 0 */}, "shard 0/2 of another split"},
	} {
		t.Run(c.name, func(t *testing.T) {
			release := hold(t, c.lock, c.args...)
			defer release()
			o := o
			o.Shard = jobs.Shard{Index: 1, Count: 4}
			_, err := jobs.Apply(ctx, s, facts(s), rs, o)
			if !errors.Is(err, jobs.ErrLocked) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("shard 1/4 while %s: %v; want ErrLocked saying %q", c.name, err, c.want)
			}
		})
	}
	if got := runStatuses(t, s); got["skipped"] != 3 || got["succeeded"] != 0 {
		t.Fatalf("run statuses %v, want 3 skipped shard runs", got)
	}
	// The same split's other shards run alongside.
	release := hold(t, `SELECT pg_advisory_xact_lock(hashtext($1), $2)`, shardKey, 4<<16 /* count 4, index 0 */)
	defer release()
	o.Shard = jobs.Shard{Index: 1, Count: 4}
	if _, err := jobs.Apply(ctx, s, facts(s), rs, o); err != nil {
		t.Fatalf("shard 1/4 while shard 0/4 runs: %v", err)
	}
}

// A shard that died (its run left running, its transaction gone) is
// rerun alone: the rerun closes its run as abandoned and, the last to
// commit, completes the parent; the state is that of an unsharded apply.
func TestShardRerunAfterDeath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	control := newStore(t, 1000)
	s := newStore(t, 1000)
	rs := retail(t)
	o := opts()
	o.Guard.AllowLarge = true
	applyAt(t, control, rs, day(0), o)
	o.AsOf = day(0)
	// Shards 0 and 2 of 3 commit; shard 1 "dies" after recording its
	// start: a run row left running, as a SIGKILL leaves it.
	for _, i := range []int{0, 2} {
		o := o
		o.Shard = jobs.Shard{Index: i, Count: 3}
		if _, err := jobs.Apply(ctx, s, facts(s), rs, o); err != nil {
			t.Fatal(err)
		}
	}
	var parent int64
	if err := s.DB().Get(&parent, `SELECT id FROM tierflow.runs WHERE kind = 'sharded'`); err != nil {
		t.Fatal(err)
	}
	exec(t, s, `INSERT INTO tierflow.runs (ruleset, rules_hash, kind, as_of, status, started_at, parent_id, shard, shards)
		VALUES ('retail', $1, 'apply', $2, 'running', now(), $3, 1, 3)`, rs.Hash, day(0), parent)
	if got := count(t, s, `SELECT count(*) FROM tierflow.runs WHERE id = $1 AND status = 'running'`, parent); got != 1 {
		t.Fatal("the parent completed without shard 1")
	}
	o.Shard = jobs.Shard{Index: 1, Count: 3}
	if _, err := jobs.Apply(ctx, s, facts(s), rs, o); err != nil {
		t.Fatal(err)
	}
	if got := runStatuses(t, s); got["abandoned"] != 1 || got["succeeded"] != 4 || got["running"] != 0 {
		t.Fatalf("run statuses %v; want the dead shard's run abandoned, 3 shards and the parent succeeded", got)
	}
	sameDigests(t, "state after a shard's rerun against one apply", outcomeDigest(t, s), outcomeDigest(t, control))
}

// The query docs/operations.md gives for a shard's customers lists those
// tierflow puts in it.
func TestShardDocsQuery(t *testing.T) {
	t.Parallel()
	s := newStore(t, 2000)
	blocks := sqlBlocks(t, "../../docs/operations.md", "## Sharded runs")
	if len(blocks) != 1 {
		t.Fatalf("found %d sql blocks under Sharded runs, want the one query", len(blocks))
	}
	var got []string
	if err := s.DB().Select(&got, `SELECT customer_id::text FROM (`+blocks[0]+`) AS q ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	var want []string
	for id := 1; id <= 2000; id++ {
		if k := fmt.Sprint(id); jobs.ShardOf(k, 4) == 2 {
			want = append(want, k)
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) || len(want) < 400 {
		t.Fatalf("the documented query lists %d customers of shard 2/4, tierflow puts %d there", len(got), len(want))
	}
}

// sameWholeReport fails unless the latest succeeded run of retail in s
// is a sharded run's parent whose stored report has want's figures: the
// customers, moves, segment sizes, actions, errors and coverage.
func sameWholeReport(t *testing.T, night int, s *postgres.Store, want *jobs.PlanReport) {
	t.Helper()
	ctx := context.Background()
	last, ok, err := s.LastSucceeded(ctx, "retail")
	if err != nil || !ok {
		t.Fatalf("night %d: latest succeeded run: %v, %v", night, ok, err)
	}
	run, got, ok, err := s.RunReport(ctx, last.ID)
	if err != nil || !ok || got == nil {
		t.Fatalf("night %d: report of run %d: %v, %v, %v", night, last.ID, got, ok, err)
	}
	if run.Kind != "sharded" {
		t.Fatalf("night %d: the latest succeeded run is %d, of kind %q; want the sharded run's parent", night, run.ID, run.Kind)
	}
	figures := func(r *jobs.PlanReport) string {
		b, err := json.Marshal(struct {
			Customers, Changed, ActionsTotal int
			Segmentations                    []jobs.SegmentationReport
			Actions                          []jobs.ActionReport
			Errors                           int
			ByRule                           map[string]int
			Coverage                         []jobs.CoverageReport
		}{r.Customers, r.Changed, r.ActionsTotal, r.Segmentations, r.Actions, r.Errors.Customers, r.Errors.ByRule, r.Coverage})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if g, w := figures(got), figures(want); g != w {
		t.Fatalf("night %d: the parent's report\n%s\nwant the unsharded run's\n%s", night, g, w)
	}
	if len(want.Coverage) == 0 {
		t.Fatalf("night %d: the rule set has no coverage targets: the test compares none", night)
	}
}
