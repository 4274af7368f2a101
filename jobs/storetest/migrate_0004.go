package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// rowsText renders every row q returns, for comparing a table before and
// after a migration.
func (e *env) rowsText(q string) string {
	e.t.Helper()
	rows, err := e.s.DB().Query(e.sql(q))
	if err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		e.t.Fatal(err)
	}
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			e.t.Fatal(err)
		}
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				vals[i] = string(bs)
			}
		}
		fmt.Fprintln(&b, vals...)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return b.String()
}

// A database at version 3 holds runs (the last one deleted, so that the
// id sequence is ahead of the rows) and slots: finished, missed, and a
// claim stuck since before leases existed. Migration 0004 keeps every row
// as it was, gives the stuck claim a lease of an hour from its claim,
// keeps run ids growing past the deleted one, keeps refusing unknown run
// statuses and accepts 'cancelled'; a claim written by an older tierflow
// during the upgrade (without lease_until) gets an hour's lease too.
func testMigrateSlotLeases(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newBareEnv(t, nb)
	e.b.SetUpVersion(t, e.s, 3)
	at := func(h int) string { return fmt.Sprintf("2024-07-01T%02d:00:00.000000Z", h) }
	for i, st := range []string{"succeeded", "failed", "skipped"} {
		e.exec(`INSERT INTO {runs} (ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at, customers, error)
			VALUES ('retail', 'h', 'scheduled', $1, $1, $2, $1, $1, $3, 'e')`, at(i), st, 10+i)
	}
	e.exec(`DELETE FROM {runs} WHERE id = 3`)
	e.exec(`INSERT INTO {slots} (ruleset, slot, status, owner, claimed_at, run_id) VALUES ('retail', $1, 'succeeded', 'r1', $1, 1)`, at(0))
	e.exec(`INSERT INTO {slots} (ruleset, slot, status, claimed_at) VALUES ('retail', $1, 'missed', $1)`, at(1))
	e.exec(`INSERT INTO {slots} (ruleset, slot, status, owner, claimed_at) VALUES ('retail', $1, 'claimed', 'stuck', $2)`,
		at(2), "2024-07-01T02:00:01.250000Z")
	// The columns of runs before 0004 (later migrations add others).
	const runsQ = `SELECT id, ruleset, rules_hash, kind, as_of, slot, status, started_at, finished_at, customers, changed, actions, errors, detail, error
		FROM {runs} ORDER BY id`
	const slotsQ = `SELECT ruleset, slot, status, owner, claimed_at, run_id FROM {slots} ORDER BY slot`
	runsBefore, slotsBefore := e.rowsText(runsQ), e.rowsText(slotsQ)

	st, err := e.s.Migrate(ctx, false)
	if err != nil || st.Current != st.Latest {
		t.Fatalf("migrate from version 3: %+v, %v", st, err)
	}
	if got := e.rowsText(runsQ); got != runsBefore {
		t.Errorf("runs changed:\n%s\nwas:\n%s", got, runsBefore)
	}
	if got := e.rowsText(slotsQ); got != slotsBefore {
		t.Errorf("slots changed:\n%s\nwas:\n%s", got, slotsBefore)
	}
	open, err := e.s.OpenSlots(ctx, "retail")
	stuck := time.Date(2024, 7, 1, 2, 0, 1, 250_000_000, time.UTC)
	if err != nil || len(open) != 1 || open[0].Owner != "stuck" || !open[0].LeaseUntil.Equal(stuck.Add(time.Hour)) {
		t.Fatalf("the stuck claim after migrate: %+v, %v; want a lease until %s", open, err, stuck.Add(time.Hour))
	}

	id, err := e.s.StartRun(ctx, jobs.RunInfo{RuleSet: "retail", RulesHash: "h", AsOf: asOf, Started: asOf}, "apply")
	if err != nil || id != 4 {
		t.Fatalf("the first run after migrate is %d, %v; want 4, after the deleted run 3", id, err)
	}
	if err := e.s.FinishRun(ctx, id, jobs.RunSummary{Status: jobs.StatusCancelled, Finished: asOf}); err != nil {
		t.Fatalf("recording a cancelled run: %v", err)
	}
	if _, err := e.s.DB().Exec(e.sql(`UPDATE {runs} SET status = 'bogus' WHERE id = 4`)); err == nil {
		t.Fatal("the runs table accepts any status after migrate")
	}

	before := time.Now()
	e.exec(`INSERT INTO {slots} (ruleset, slot, status, owner, claimed_at) VALUES ('retail', $1, 'claimed', 'old', $1)`, at(5))
	open, err = e.s.OpenSlots(ctx, "retail")
	if err != nil || len(open) != 2 || open[1].Owner != "old" {
		t.Fatalf("open slots: %+v, %v", open, err)
	}
	if lease := open[1].LeaseUntil; lease.Before(before.Add(59*time.Minute)) || lease.After(time.Now().Add(61*time.Minute)) {
		t.Fatalf("a claim without lease_until got a lease until %s, want an hour from now", lease)
	}
}
