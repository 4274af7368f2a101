package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// historyRules queues call, visit and gone for every customer on every
// run (no cooldowns).
const historyRules = `ruleset: history
facts:
  orders_12m: integer
  channel: string
segmentations:
  - name: source
    segments:
      - name: online
        when: channel == "online"
      - name: other
        fallback: true
actions:
  - name: call
    when: orders_12m >= 0
    outcomes: [reached, no_answer]
  - name: visit
    when: orders_12m >= 0
  - name: gone
    when: orders_12m >= 0
`

// historyLimited is historyRules with a contact limit of one a day: a run
// queues call and suppresses visit and gone.
func historyLimited(t testing.TB) *rules.RuleSet {
	return compileRules(t, strings.Replace(historyRules, "segmentations:", "limits:\n  per_customer: 1 per 1d\nsegmentations:", 1))
}

// historyLater is historyRules as later edited: gone removed, visit moved
// before call. The history is read with it.
func historyLater(t testing.TB) *rules.RuleSet {
	src := strings.Replace(historyRules, "  - name: gone\n    when: orders_12m >= 0\n", "", 1)
	src = strings.Replace(src, "  - name: call\n    when: orders_12m >= 0\n    outcomes: [reached, no_answer]\n", "", 1)
	return compileRules(t, src+"  - name: call\n    when: orders_12m >= 0\n    outcomes: [reached, no_answer]\n")
}

// followUpText renders a customer's follow-up history, sorted, with the
// action names of rs (-1 for none).
func followUpText(rs *rules.RuleSet, c *engine.Customer) string {
	name := func(i int) string {
		if i < 0 {
			return "-1"
		}
		return rs.Actions[i].Name
	}
	var out, con []string
	for _, o := range c.State.Outcomes {
		out = append(out, fmt.Sprintf("%s:%s@%s", name(o.Action), o.Outcome, ts(o.At)))
	}
	for _, ct := range c.State.Contacts {
		con = append(con, fmt.Sprintf("%s@%s", name(ct.Action), ts(ct.At)))
	}
	slices.Sort(out)
	slices.Sort(con)
	return fmt.Sprintf("outcomes [%s] contacts [%s]", strings.Join(out, " "), strings.Join(con, " "))
}

// loadFollowUps reads the follow-up history of keys through reader.
func loadFollowUps(t *testing.T, r jobs.StateReader, keys []string, q jobs.FollowUpQuery) []engine.Customer {
	t.Helper()
	l, ok := r.(jobs.FollowUpLoader)
	if !ok {
		t.Fatalf("the state reader %T reads no follow-up history", r)
	}
	batch := make([]engine.Customer, len(keys))
	for i, k := range keys {
		batch[i].Key = k
	}
	if err := r.Load(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if err := l.LoadFollowUps(context.Background(), batch, q); err != nil {
		t.Fatalf("LoadFollowUps(%+v): %v", q, err)
	}
	return batch
}

// Three customers get call, visit and gone on days 0, 1 and 2 (the
// third run suppresses visit and gone by a contact limit), and segment
// syncs. Outcomes are reported on several of customer 3's actions and one
// of customer 2's; one action is cancelled. The history is read with a
// later edit of the rules (gone removed, the actions reordered): per
// action and outcome the latest time at or before Until, of actions the
// rules define; the contacts after ContactsSince and at or before Until,
// except withheld and cancelled ones and syncs, gone's with index -1. A
// key twice in a batch gets the history twice; a reader opened before
// the outcomes sees none of them.
func testStateLoadFollowUps(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e, s := newFollowUpEnv(t, ns, 3)
	rs := compileRules(t, historyRules)
	o := followUpOptions()
	o.Sync = map[string][]string{"source": {"crm"}}
	e.applyAt(rs, day(0), o)
	next := map[string]string{"online": "store", "store": "partner", "partner": "online"}
	e.f.update(func(c *Customer) { c.Channel = next[c.Channel] }) // customers 2 and 3 move
	e.applyAt(rs, day(1), o)
	e.applyAt(historyLimited(t), day(2), o)
	syncs := e.queue(kernel.ActionFilter{RuleSet: rs.Name, Action: "sync.source"})
	if len(syncs) != 5 {
		t.Fatalf("%d sync actions, want 5 (3 on the first run, 2 moves)", len(syncs))
	}
	for _, q := range syncs {
		if q.Segments != nil {
			t.Fatalf("sync action %d keeps segments %v, want none", q.ID, q.Segments)
		}
	}
	later := historyLater(t)
	before, err := s.OpenState(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()

	rows := map[string]int64{} // action/customer/day -> id
	for _, q := range e.queue(kernel.ActionFilter{RuleSet: rs.Name}) {
		rows[fmt.Sprintf("%s/%s/%d", q.Action, q.Customer, int(q.CreatedAt.Sub(day(0)).Hours()/24))] = q.ID
	}
	hour := func(d, h int) time.Time { return day(d).Add(time.Duration(h) * time.Hour) }
	for _, r := range []struct {
		row             string
		status, outcome string
		at              time.Time
	}{
		{"call/3/0", jobs.ActionDone, "reached", hour(0, 1)},
		{"call/3/1", jobs.ActionDone, "reached", hour(1, 1)},
		{"call/3/2", jobs.ActionDone, "no_answer", hour(2, 1)},
		{"visit/3/0", jobs.ActionFailed, "", hour(0, 2)},
		{"visit/3/1", jobs.ActionDone, "", hour(1, 2)},
		{"gone/3/0", jobs.ActionDone, "reached", hour(0, 3)},
		{"call/2/2", jobs.ActionDone, "no_answer", hour(2, 5)},
	} {
		if err := s.RecordOutcome(ctx, jobs.OutcomeReport{ID: rows[r.row], Status: r.status, Outcome: r.outcome, At: r.at}); err != nil {
			t.Fatalf("record the outcome of %s: %v", r.row, err)
		}
	}
	if err := s.CancelAction(ctx, rows["gone/3/1"]); err != nil {
		t.Fatal(err)
	}

	t1, t2 := ts(day(1)), ts(day(2))
	for _, c := range []struct {
		name string
		q    jobs.FollowUpQuery
		want map[string]string
	}{
		{"days 1 and 2", jobs.FollowUpQuery{Outcomes: true, Contacts: true, ContactsSince: day(0), Until: day(2)}, map[string]string{
			"3":  "outcomes [call:reached@" + ts(hour(1, 1)) + "] contacts [call@" + t1 + " call@" + t2 + " visit@" + t1 + "]",
			"2":  "outcomes [] contacts [-1@" + t1 + " call@" + t1 + " call@" + t2 + " visit@" + t1 + "]",
			"1":  "outcomes [] contacts [-1@" + t1 + " call@" + t1 + " call@" + t2 + " visit@" + t1 + "]",
			"99": "outcomes [] contacts []",
		}},
		{"until an outcome's time", jobs.FollowUpQuery{Outcomes: true, Contacts: true, ContactsSince: day(1), Until: hour(2, 1)}, map[string]string{
			"3": "outcomes [call:no_answer@" + ts(hour(2, 1)) + " call:reached@" + ts(hour(1, 1)) + "] contacts [call@" + t2 + "]",
			"2": "outcomes [] contacts [call@" + t2 + "]",
		}},
		{"just before", jobs.FollowUpQuery{Outcomes: true, Contacts: true, ContactsSince: day(0).Add(-time.Microsecond), Until: hour(1, 1).Add(-time.Microsecond)}, map[string]string{
			"3": "outcomes [call:reached@" + ts(hour(0, 1)) + "] contacts [-1@" + ts(day(0)) + " call@" + ts(day(0)) + " call@" + t1 + " visit@" + ts(day(0)) + " visit@" + t1 + "]",
		}},
		{"outcomes only", jobs.FollowUpQuery{Outcomes: true, Until: hour(2, 5)}, map[string]string{
			"2": "outcomes [call:no_answer@" + ts(hour(2, 5)) + "] contacts []",
		}},
	} {
		r, err := s.OpenState(ctx, later)
		if err != nil {
			t.Fatal(err)
		}
		keys := []string{"3", "2", "3", "1", "99"}
		got := loadFollowUps(t, r, keys, c.q)
		r.Close()
		for i, k := range keys {
			want, ok := c.want[k]
			if !ok {
				continue
			}
			if g := followUpText(later, &got[i]); g != want {
				t.Errorf("%s: customer %s (at %d in the batch): %s\nwant %s", c.name, k, i, g, want)
			}
		}
	}
	for _, c := range loadFollowUps(t, before, []string{"3", "2"}, jobs.FollowUpQuery{Outcomes: true, Until: day(9)}) {
		if len(c.State.Outcomes) != 0 {
			t.Errorf("a reader opened before the outcomes were reported reads %s", followUpText(later, &c))
		}
	}
}
