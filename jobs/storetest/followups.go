package storetest

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var followUpCases = []testCase{
	{"follow-ups: a joined snapshot reads the follow-up history from its own snapshot while it streams", testJoinedFollowUps},
	{"migrate: 0006 keeps actions and their attempts, allows withheld statuses", testMigrateFollowUps},
}

// An apply of withheldRules reading facts joined to state in SQL
// withholds and limits as one reading state by key does (see
// testStateWithheld). The snapshot's follow-up history is read while
// Stream runs, from the snapshot: an outcome reported after it was
// opened is not in it.
func testJoinedFollowUps(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	const n = 30
	e := newEnv(t, nb, n)
	fs, ok := e.s.(FollowUpStore)
	if !ok {
		t.Fatalf("%T records no outcomes", e.s)
	}
	rs := withheldRuleSet(t)
	src := e.s.Source("customer_facts")
	var keys []string
	for id := 1; id <= n; id++ {
		keys = append(keys, strconv.Itoa(id))
	}
	held, reached := heldOut(rs, keys)
	apply := func(d int) {
		t.Helper()
		o := followUpOptions()
		o.AsOf = day(d)
		if _, err := jobs.Apply(ctx, e.s, src, rs, o); err != nil {
			t.Fatalf("apply on day %d: %v", d, err)
		}
	}
	apply(0)
	queue := func() []kernel.QueuedAction {
		q, err := e.s.Actions(ctx, kernel.ActionFilter{RuleSet: rs.Name, Limit: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	var call int64
	for _, q := range queue() {
		if q.Action == "call" && q.Status == jobs.ActionPending && call == 0 {
			call = q.ID
		}
	}
	snap, joined, err := e.s.Join(ctx, rs, src)
	if err != nil || !joined {
		t.Fatalf("join: %v, %v", joined, err)
	}
	defer snap.Close()
	if err := fs.RecordOutcome(ctx, jobs.OutcomeReport{ID: call, Status: jobs.ActionDone, Outcome: "reached", At: day(0)}); err != nil {
		t.Fatal(err)
	}
	l, ok := snap.(jobs.FollowUpLoader)
	if !ok {
		t.Fatalf("the joined snapshot %T reads no follow-up history", snap)
	}
	q := jobs.FollowUpQuery{Outcomes: true, Contacts: true, ContactsSince: day(-7), Until: day(1)}
	seen := 0
	err = snap.Stream(ctx, 7, func(batch []engine.Customer) error {
		if err := l.LoadFollowUps(ctx, batch, q); err != nil {
			return err
		}
		for i := range batch {
			c := &batch[i]
			seen++
			want := "outcomes [] contacts [call@" + ts(day(0)) + "]"
			if held[c.Key] {
				want = "outcomes [] contacts [mail@" + ts(day(0)) + "]"
			}
			if got := followUpText(rs, c); got != want {
				t.Errorf("customer %s: %s, want %s", c.Key, got, want)
			}
		}
		return nil
	})
	if err != nil || seen != n {
		t.Fatalf("stream: %d customers, %v", seen, err)
	}

	apply(1)
	apply(8)
	count := map[string]int{}
	for _, q := range queue() {
		if d := int(q.CreatedAt.Sub(day(0)).Hours() / 24); d > 0 {
			count[fmt.Sprintf("%s/%s/%d", q.Action, q.Status, d)]++
		}
	}
	if len(count) != 2 || count["mail/suppressed/1"] != len(reached) || count["mail/pending/8"] != len(reached) {
		t.Fatalf("rows queued after the first day: %v; want %d suppressed mails on day 1 and %d pending on day 8", count, len(reached), len(reached))
	}
}
