package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// actionText renders one queue row with its outcome, for comparing.
func (e *stateEnv) actionText(id int64) string {
	e.t.Helper()
	qs := e.queue(kernel.ActionFilter{ID: id})
	if len(qs) != 1 {
		e.t.Fatalf("no action %d in the queue", id)
	}
	q := qs[0]
	at := "-"
	if q.OutcomeAt != nil {
		at = ts(*q.OutcomeAt)
	}
	return strings.TrimSpace(queueText(qs)) + fmt.Sprintf(" outcome=%q at=%s note=%q", q.Outcome, at, q.Note)
}

// byStatus returns the ids of the rule set's queue rows of one action in
// one status.
func (e *stateEnv) byStatus(rs *rules.RuleSet, action, status string) []int64 {
	e.t.Helper()
	var out []int64
	for _, q := range e.queue(kernel.ActionFilter{RuleSet: rs.Name, Action: action, Status: status}) {
		out = append(out, q.ID)
	}
	if len(out) < 2 {
		e.t.Fatalf("only %d %s actions are %s; the case needs two", len(out), action, status)
	}
	return out
}

// An outcome is written onto a pending, claimed, done or failed action in
// one step: status, outcome (none for a failure), note and time, and the
// lease is gone, so that the worker that held it finishes nothing. A
// held-out, suppressed, dead or cancelled action refuses it and stays as
// it was, as does a missing one; jobs.RecordOutcome checks the outcome
// against the action's rule.
func testStateRecordOutcome(t *testing.T, ns func(t *testing.T) StateBackend) {
	ctx := context.Background()
	e, s := newFollowUpEnv(t, ns, 20)
	rs := withheldRuleSet(t)
	e.applyAt(rs, day(0), followUpOptions())
	calls, mails := e.byStatus(rs, "call", jobs.ActionPending), e.byStatus(rs, "mail", jobs.ActionPending)
	heldOut, suppressed := e.byStatus(rs, "call", jobs.ActionHeldOut)[0], e.byStatus(rs, "mail", jobs.ActionSuppressed)[0]

	a := calls[0]
	ref, err := s.ActionRef(ctx, a)
	if q := e.queue(kernel.ActionFilter{ID: a})[0]; err != nil || ref != (jobs.ActionRef{ID: a, RuleSet: rs.Name, Action: "call", Customer: q.Customer, Status: jobs.ActionPending}) {
		t.Fatalf("ActionRef(%d) = %+v, %v", a, ref, err)
	}
	at := day(0).Add(2 * time.Hour)
	record := func(r jobs.OutcomeReport) error { return s.RecordOutcome(ctx, r) }
	if err := record(jobs.OutcomeReport{ID: a, Status: jobs.ActionDone, Outcome: "reached", Note: "spoke to her", At: at}); err != nil {
		t.Fatalf("record an outcome of a pending action: %v", err)
	}
	q := e.queue(kernel.ActionFilter{ID: a})[0]
	if q.Status != jobs.ActionDone || q.Outcome != "reached" || q.OutcomeAt == nil || !q.OutcomeAt.Equal(at) || q.Note != "spoke to her" || len(q.Segments) != 1 {
		t.Fatalf("after the outcome: %s", e.actionText(a))
	}

	// Claimed: the outcome ends the lease, and the worker's Finish writes nothing.
	if got := claim(t, s, "w", day(0), 100, "hook"); len(got) != len(calls)+len(mails)-1 {
		t.Fatalf("claimed %d actions, want the %d pending", len(got), len(calls)+len(mails)-1)
	}
	b := mails[0]
	if err := record(jobs.OutcomeReport{ID: b, Status: jobs.ActionFailed, Note: "no such address", At: at}); err != nil {
		t.Fatalf("record a failure of a claimed action: %v", err)
	}
	q = e.queue(kernel.ActionFilter{ID: b})[0]
	if q.Status != jobs.ActionFailed || q.Outcome != "" || q.Note != "no such address" || q.LeaseOwner != "" || q.LeaseUntil != nil || q.OutcomeAt == nil {
		t.Fatalf("after the failure of a claimed action: %s", e.actionText(b))
	}
	if finish(t, s, jobs.Finished{ID: b, Owner: "w", Status: jobs.ActionDone, Attempt: jobs.Attempt{Started: at}}) {
		t.Fatal("the worker finished an action whose outcome was reported meanwhile")
	}

	// Done and failed take another outcome: the latest report wins.
	if err := record(jobs.OutcomeReport{ID: a, Status: jobs.ActionFailed, Note: "wrong number", At: at.Add(time.Hour)}); err != nil {
		t.Fatalf("report a done action as failed: %v", err)
	}
	if q := e.queue(kernel.ActionFilter{ID: a})[0]; q.Status != jobs.ActionFailed || q.Outcome != "" || q.Note != "wrong number" || !q.OutcomeAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("after a second report: %s", e.actionText(a))
	}

	dead, cancelled := calls[1], mails[1]
	if !finish(t, s, jobs.Finished{ID: dead, Owner: "w", Status: jobs.ActionDead, Attempt: jobs.Attempt{Started: at, Error: "gone"}}) {
		t.Fatal("finish dead")
	}
	if err := s.CancelAction(ctx, cancelled); err != nil {
		t.Fatal(err)
	}
	for id, status := range map[int64]string{heldOut: jobs.ActionHeldOut, suppressed: jobs.ActionSuppressed, dead: jobs.ActionDead, cancelled: jobs.ActionCancelled} {
		before := e.actionText(id)
		err := record(jobs.OutcomeReport{ID: id, Status: jobs.ActionDone, At: at})
		if !errors.Is(err, jobs.ErrNotFinishable) || !strings.Contains(err.Error(), status) {
			t.Fatalf("an outcome of a %s action: %v, want jobs.ErrNotFinishable naming the status", status, err)
		}
		if after := e.actionText(id); after != before {
			t.Fatalf("a refused outcome changed the %s action:\n%s\nwas\n%s", status, after, before)
		}
	}
	if _, err := s.ActionRef(ctx, 1<<40); !errors.Is(err, jobs.ErrNoAction) {
		t.Fatalf("ActionRef of a missing action: %v", err)
	}
	if err := record(jobs.OutcomeReport{ID: 1 << 40, Status: jobs.ActionDone, At: at}); !errors.Is(err, jobs.ErrNoAction) || !errors.Is(err, kernel.ErrNoAction) {
		t.Fatalf("an outcome of a missing action: %v", err)
	}
	for _, r := range []jobs.OutcomeReport{
		{ID: a, Status: jobs.ActionDead, At: at},
		{ID: a, Status: jobs.ActionDone},
		{ID: a, Status: jobs.ActionFailed, Outcome: "reached", At: at},
	} {
		if err := record(r); !errors.Is(err, jobs.ErrBadOutcome) {
			t.Fatalf("RecordOutcome(%+v): %v, want jobs.ErrBadOutcome", r, err)
		}
	}

	// Through jobs: the outcome must be one the action declares.
	ruleSet := func(name string) *rules.RuleSet {
		if name == rs.Name {
			return rs
		}
		return nil
	}
	c := calls[2%len(calls)]
	if _, err := jobs.RecordOutcome(ctx, s, ruleSet, jobs.OutcomeReport{ID: c, Status: jobs.ActionDone, Outcome: "bogus", At: at}); !errors.Is(err, jobs.ErrBadOutcome) {
		t.Fatalf("an undeclared outcome: %v", err)
	}
	ref, err = jobs.RecordOutcome(ctx, s, ruleSet, jobs.OutcomeReport{ID: c, Status: jobs.ActionDone, Outcome: "no_answer", At: at})
	if err != nil || ref.Status != jobs.ActionDone || ref.Action != "call" {
		t.Fatalf("jobs.RecordOutcome: %+v, %v", ref, err)
	}
	if q := e.queue(kernel.ActionFilter{ID: c})[0]; q.Outcome != "no_answer" || q.Status != jobs.ActionDone {
		t.Fatalf("after jobs.RecordOutcome: %s", e.actionText(c))
	}
}
