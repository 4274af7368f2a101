package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

var stateFollowUpCases = []stateCase{
	{"follow-ups: withheld actions are recorded with status, note and segments; only held-out ones start a cooldown", testStateWithheld},
	{"follow-ups: LoadFollowUps reads the latest outcomes and the contacts of a window", testStateLoadFollowUps},
	{"follow-ups: RecordOutcome writes outcomes onto actions that can take one and refuses the others", testStateRecordOutcome},
}

// FollowUpStore is a state store with the delivery queue that records
// outcomes; its state readers read the follow-up history
// (jobs.FollowUpLoader).
type FollowUpStore interface {
	QueueStore
	jobs.OutcomeStore
}

// withheldRules is a rule set in which every customer gets both actions
// on every run they are out of cooldown: call (priority 1, phone) holds
// half of them out, and one contact per 7 days suppresses mail (priority
// 2) for those who got a call.
const withheldRules = `ruleset: followups
facts:
  orders_12m: integer
  channel: string
limits:
  per_customer: 1 per 7d
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
    priority: 1
    cooldown: 30d
    channel: phone
    holdout: 50%
    outcomes: [reached, no_answer]
  - name: mail
    when: orders_12m >= 0
    priority: 2
    cooldown: 30d
    channel: email
`

// compileRules compiles a rule set of the suite's own.
func compileRules(t testing.TB, src string) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("followups.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// withheldRuleSet is withheldRules with both actions delivered to "hook".
func withheldRuleSet(t testing.TB) *rules.RuleSet {
	rs := compileRules(t, withheldRules)
	for _, a := range rs.Actions {
		a.DeliverTo = "hook"
	}
	return rs
}

// newFollowUpEnv is a state env of n customers whose store records
// outcomes.
func newFollowUpEnv(t *testing.T, newStore func(t *testing.T) StateBackend, n int) (*stateEnv, FollowUpStore) {
	t.Helper()
	e := newStateEnv(t, newStore, n)
	s, ok := e.s.(FollowUpStore)
	if !ok {
		t.Fatalf("%T records no outcomes or has no delivery queue", e.s)
	}
	return e, s
}

// followUpOptions are Options that queue actions from the first run and
// let every customer change.
func followUpOptions() jobs.Options {
	o := Options()
	o.InitialActions = true
	o.Guard.AllowLarge = true
	return o
}

// heldOut splits keys by whether call holds them out.
func heldOut(rs *rules.RuleSet, keys []string) (held, reached map[string]bool) {
	held, reached = map[string]bool{}, map[string]bool{}
	call, _ := rs.Action("call")
	for _, k := range keys {
		if call.Holdout.Holds(rs.Name, call.Name, k) {
			held[k] = true
		} else {
			reached[k] = true
		}
	}
	return held, reached
}

// rowsBy indexes the queue rows of one as-of by action and customer.
func rowsBy(qs []kernel.QueuedAction, at time.Time) map[[2]string]kernel.QueuedAction {
	out := map[[2]string]kernel.QueuedAction{}
	for _, q := range qs {
		if q.CreatedAt.Equal(at) {
			out[[2]string{q.Action, q.Customer}] = q
		}
	}
	return out
}

// A run withholds call from the customers in its holdout group (held_out)
// and, by the contact limit, mail from the others (suppressed); each row
// keeps its reason as its note and the customer's segments. Nobody claims
// or counts them. The next day a suppressed mail fires again (and is
// suppressed again: the call still counts), while a held-out call is in
// its cooldown; a week later the limit's window has passed and mail is
// queued.
func testStateWithheld(t *testing.T, ns func(t *testing.T) StateBackend) {
	const n = 40
	e, s := newFollowUpEnv(t, ns, n)
	rs := withheldRuleSet(t)
	held, reached := heldOut(rs, e.f.keys())
	if len(held) == 0 || len(reached) == 0 {
		t.Fatalf("a 50%% holdout of %d customers holds out %d", n, len(held))
	}
	out := e.applyAt(rs, day(0), followUpOptions())
	if a := out.Report.Actions; a[0].Count != len(reached) || a[0].HeldOut != len(held) || a[1].Count != len(held) || a[1].Suppressed != len(reached) {
		t.Fatalf("the apply reported %+v; want call queued %d and held out %d, mail queued %d and suppressed %d",
			a, len(reached), len(held), len(held), len(reached))
	}
	e.applyAt(rs, day(0), followUpOptions()) // a rerun queues nothing new
	rows := e.queue(kernel.ActionFilter{RuleSet: rs.Name})
	if len(rows) != 2*n {
		t.Fatalf("%d queue rows after the run and its rerun, want %d", len(rows), 2*n)
	}
	day0 := rowsBy(rows, day(0))
	for _, key := range e.f.keys() {
		call, mail := day0[[2]string{"call", key}], day0[[2]string{"mail", key}]
		wantCall, wantMail := jobs.ActionPending, jobs.ActionSuppressed
		if held[key] {
			wantCall, wantMail = jobs.ActionHeldOut, jobs.ActionPending
		}
		if call.Status != wantCall || mail.Status != wantMail {
			t.Fatalf("customer %s: call %s and mail %s, want %s and %s", key, call.Status, mail.Status, wantCall, wantMail)
		}
		for _, q := range []kernel.QueuedAction{call, mail} {
			checkWithheldNote(t, q)
			c, _ := e.f.customer(key)
			want := "other"
			if c.Channel == "online" {
				want = "online"
			}
			if len(q.Segments) != 1 || q.Segments["source"] != want {
				t.Fatalf("%s for customer %s keeps segments %v, want source: %s", q.Action, key, q.Segments, want)
			}
		}
	}
	if got := len(e.queue(kernel.ActionFilter{RuleSet: rs.Name, Status: jobs.ActionHeldOut})); got != len(held) {
		t.Fatalf("%d held-out actions listed by status, want %d", got, len(held))
	}
	if got := len(e.queue(kernel.ActionFilter{RuleSet: rs.Name, Status: jobs.ActionSuppressed, Action: "mail"})); got != len(reached) {
		t.Fatalf("%d suppressed mail actions listed by status, want %d", got, len(reached))
	}
	e.checkNeverClaimed(s, n)

	e.applyAt(rs, day(1), followUpOptions())
	day1 := rowsBy(e.queue(kernel.ActionFilter{RuleSet: rs.Name}), day(1))
	if len(day1) != len(reached) {
		t.Fatalf("the next day queued %d rows, want %d suppressed mails again", len(day1), len(reached))
	}
	for key := range reached {
		if q, ok := day1[[2]string{"mail", key}]; !ok || q.Status != jobs.ActionSuppressed {
			t.Fatalf("customer %s: mail the next day %+v, want suppressed again (no cooldown, the call counts)", key, q)
		}
	}

	e.applyAt(rs, day(8), followUpOptions())
	day8 := rowsBy(e.queue(kernel.ActionFilter{RuleSet: rs.Name}), day(8))
	if len(day8) != len(reached) {
		t.Fatalf("a week later %d rows were queued, want %d mails", len(day8), len(reached))
	}
	for key := range reached {
		if q := day8[[2]string{"mail", key}]; q.Status != jobs.ActionPending || q.Note != "" {
			t.Fatalf("customer %s: mail a week later %+v, want pending without a note", key, q)
		}
	}
}

// checkWithheldNote fails unless a withheld row says why and a queued one
// has no note.
func checkWithheldNote(t *testing.T, q kernel.QueuedAction) {
	t.Helper()
	want := map[string]string{jobs.ActionHeldOut: "holdout", jobs.ActionSuppressed: "contact limit"}[q.Status]
	if want == "" && q.Note != "" || want != "" && !strings.Contains(q.Note, want) {
		t.Fatalf("%s %s for customer %s has note %q; want one that mentions %q", q.Status, q.Action, q.Customer, q.Note, want)
	}
}

// checkNeverClaimed claims every due action of hook: only the pending
// ones come, and queue stats, where the store has them, count only them.
func (e *stateEnv) checkNeverClaimed(s FollowUpStore, pending int) {
	e.t.Helper()
	if st, ok := s.(interface {
		QueueStats(ctx context.Context, now time.Time) (map[string]kernel.QueueStat, error)
	}); ok {
		stats, err := st.QueueStats(context.Background(), day(9))
		if err != nil || stats["hook"].Pending != int64(pending) || stats["hook"].Claimed != 0 || stats["hook"].Dead != 0 {
			e.t.Fatalf("queue stats %+v, %v; want %d pending", stats, err, pending)
		}
	}
	got := claim(e.t, s, "w", day(9), 10*pending, "hook")
	if len(got) != pending {
		e.t.Fatalf("claimed %d actions, want the %d pending ones", len(got), pending)
	}
	for _, d := range got {
		if a := e.queue(kernel.ActionFilter{ID: d.ID}); len(a) != 1 || a[0].Note != "" {
			e.t.Fatalf("claimed %+v", a)
		}
	}
}
