package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// A database at version 5 holds actions in every status of delivery, the
// attempts of some, and a last action deleted, so that the id sequence
// is ahead of the rows. Migration 0006 keeps every action and attempt as
// it was, with no outcome, note or segments; ids keep growing past the
// deleted one; held_out and suppressed are accepted, other statuses and
// segments that are not JSON refused; the old rows list and claim as
// before, and a withheld row is never claimed.
func testMigrateFollowUps(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newBareEnv(t, nb)
	e.b.SetUpVersion(t, e.s, 5)
	at := func(h int) string { return fmt.Sprintf("2024-07-01T%02d:00:00.000000Z", h) }
	for i, r := range []struct {
		status, dest, owner, lease, claimed, finished, lastErr any
		attempts                                               int
	}{
		{status: "pending", dest: "hook"},
		{status: "claimed", dest: "hook", owner: "w1", lease: at(2), claimed: at(1), attempts: 1},
		{status: "done", dest: "crm", claimed: at(1), finished: at(1), attempts: 1},
		{status: "dead", dest: "hook", claimed: at(1), finished: at(2), lastErr: "refused", attempts: 2},
		{status: "cancelled"},
		{status: "pending", dest: "hook"},
	} {
		e.exec(`INSERT INTO {actions} (ruleset, action, customer_key, payload, priority, status, created_at, due_at, attempts,
				claimed_at, finished_at, last_error, idempotency_key, run_id, destination, lease_owner, lease_until)
			VALUES ('retail', 'winback_call', $1, '{"tier": "vip"}', 1, $2, $3, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11)`,
			fmt.Sprint(i+1), r.status, at(0), r.attempts, r.claimed, r.finished, r.lastErr, fmt.Sprintf("k%d", i+1), r.dest, r.owner, r.lease)
	}
	for _, a := range []struct{ action, attempt int }{{2, 1}, {3, 1}, {4, 1}, {4, 2}} {
		e.exec(`INSERT INTO {action_attempts} (action_id, attempt, worker, started_at, duration_us, http_status, error)
			VALUES ($1, $2, 'w1', $3, 1500, 503, 'busy')`, a.action, a.attempt, at(1))
	}
	e.exec(`DELETE FROM {actions} WHERE id = 6`)
	const actionsQ = `SELECT id, ruleset, action, customer_key, payload, priority, status, created_at, due_at, attempts, claimed_at,
		finished_at, last_error, idempotency_key, run_id, destination, lease_owner, lease_until FROM {actions} ORDER BY id`
	const attemptsQ = `SELECT * FROM {action_attempts} ORDER BY id`
	actionsBefore, attemptsBefore := e.rowsText(actionsQ), e.rowsText(attemptsQ)

	st, err := e.s.Migrate(ctx, false)
	if err != nil || st.Current != st.Latest {
		t.Fatalf("migrate from version 5: %+v, %v", st, err)
	}
	if got := e.rowsText(actionsQ); got != actionsBefore {
		t.Errorf("actions changed:\n%s\nwas:\n%s", got, actionsBefore)
	}
	if got := e.rowsText(attemptsQ); got != attemptsBefore {
		t.Errorf("action attempts changed:\n%s\nwas:\n%s", got, attemptsBefore)
	}
	if n := e.count(`SELECT count(*) FROM {action_attempts} t JOIN {actions} a ON a.id = t.action_id`); n != 4 {
		t.Errorf("%d attempts find their action, want 4", n)
	}
	if n := e.count(`SELECT count(*) FROM {actions} WHERE outcome IS NOT NULL OR outcome_at IS NOT NULL OR note IS NOT NULL OR segments IS NOT NULL`); n != 0 {
		t.Errorf("%d old actions have an outcome, note or segments", n)
	}

	var id int64
	insert := `INSERT INTO {actions} (ruleset, action, customer_key, created_at, due_at, idempotency_key, run_id, destination, status, note, segments)
		VALUES ('retail', 'winback_call', '9', $1, $1, $2, 2, 'hook', $3, 'why', $4) RETURNING id`
	if err := e.s.DB().QueryRow(e.sql(insert), at(0), "k7", jobs.ActionHeldOut, `{"value_tier": "vip"}`).Scan(&id); err != nil || id != 7 {
		t.Fatalf("the first action after migrate is %d, %v; want 7, after the deleted 6", id, err)
	}
	if _, err := e.s.DB().Exec(e.sql(insert), at(0), "k8", jobs.ActionSuppressed, nil); err != nil {
		t.Fatalf("a suppressed action: %v", err)
	}
	for _, bad := range []struct{ status, segments any }{{"bogus", nil}, {jobs.ActionPending, "not json"}} {
		if _, err := e.s.DB().Exec(e.sql(insert), at(0), fmt.Sprint("bad", bad.status), bad.status, bad.segments); err == nil {
			t.Errorf("the actions table accepts status %v with segments %v", bad.status, bad.segments)
		}
	}
	acts, err := e.s.Actions(ctx, kernel.ActionFilter{Limit: 100})
	if err != nil || len(acts) != 7 {
		t.Fatalf("actions after migrate: %d, %v", len(acts), err)
	}
	for _, a := range acts {
		if a.ID == 7 && (a.Status != jobs.ActionHeldOut || a.Note != "why" || a.Segments["value_tier"] != "vip") || a.ID < 7 && (a.Segments != nil || a.Outcome != "" || a.OutcomeAt != nil) {
			t.Fatalf("action after migrate: %+v", a)
		}
	}
	q, ok := e.s.(jobs.Queue)
	if !ok {
		t.Fatalf("%T has no queue", e.s)
	}
	got, err := q.Claim(ctx, jobs.ClaimRequest{Owner: "w2", Now: day(1), LeaseUntil: day(2), Limit: 10, Destinations: []string{"hook"}})
	if err != nil || len(got) != 2 || got[0].ID != 1 || got[1].ID != 2 || got[1].Attempt != 2 {
		t.Fatalf("claim after migrate: %+v, %v; want the pending action 1 and the lapsed claim 2", got, err)
	}
}
