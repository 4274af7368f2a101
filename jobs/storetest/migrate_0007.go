package storetest

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

var reportMigrateCases = []testCase{
	{"migrate: 0007 indexes actions by creation time, keeping every row, and counts read as before", testMigrateReport},
}

// A database at version 6 holds actions of two days and two rule sets,
// one queued before the queue kept segments (NULL) and a segment sync.
// Migration 0007 keeps them as they were and adds actions_created; the
// queue's counts of a period read the same through it.
func testMigrateReport(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newBareEnv(t, nb)
	e.b.SetUpVersion(t, e.s, 6)
	at := func(d int) string { return fmt.Sprintf("2024-07-%02dT02:00:00.000000Z", d) }
	for i, r := range []struct {
		ruleset, action, status string
		day                     int
		segments                any
	}{
		{"retail", "winback_call", "done", 1, `{"value_tier": "vip", "lifecycle": "at_risk"}`},
		{"retail", "winback_call", "held_out", 1, `{"value_tier": "vip", "lifecycle": "at_risk"}`},
		{"retail", "winback_call", "pending", 2, `{"lifecycle": "at_risk", "value_tier": "vip"}`},
		{"retail", "onboarding_message", "pending", 2, nil},
		{"retail", "sync.lifecycle", "done", 2, nil},
		{"b2b", "winback_call", "pending", 2, `{"tier": "key"}`},
	} {
		e.exec(`INSERT INTO {actions} (ruleset, action, customer_key, status, created_at, due_at, idempotency_key, run_id, segments)
			VALUES ($1, $2, $3, $4, $5, $5, $6, 1, $7)`, r.ruleset, r.action, fmt.Sprint(i+1), r.status, at(r.day), fmt.Sprintf("k%d", i+1), r.segments)
	}
	const actionsQ = `SELECT * FROM {actions} ORDER BY id`
	before := e.rowsText(actionsQ)
	st, err := e.s.Migrate(ctx, false)
	if err != nil || st.Current != st.Latest || st.Latest < 7 {
		t.Fatalf("migrate from version 6: %+v, %v", st, err)
	}
	if got := e.rowsText(actionsQ); got != before {
		t.Errorf("actions changed:\n%s\nwas:\n%s", got, before)
	}
	if !e.hasIndex("actions_created") {
		t.Error("no index actions_created after migrate")
	}
	src, ok := e.s.(jobs.ReportSource)
	if !ok {
		t.Fatalf("%T cannot read class reports (jobs.ReportSource)", e.s)
	}
	vipAtRisk := map[string]string{"lifecycle": "at_risk", "value_tier": "vip"}
	for _, tc := range []struct {
		from, until int
		want        map[string]int64
	}{
		{1, 2, map[string]int64{countText("winback_call", "done", vipAtRisk): 1, countText("winback_call", "held_out", vipAtRisk): 1,
			countText("winback_call", "pending", vipAtRisk): 1, countText("onboarding_message", "pending", nil): 1}},
		{2, 30, map[string]int64{countText("winback_call", "pending", vipAtRisk): 1, countText("onboarding_message", "pending", nil): 1}},
		{3, 30, map[string]int64{}},
	} {
		got := readActionCounts(t, src, "retail", day(tc.from-1).Add(2*time.Hour), day(tc.until-1).Add(2*time.Hour))
		if !maps.Equal(got, tc.want) {
			t.Errorf("counts of days %d to %d:\n got %v\nwant %v", tc.from, tc.until, got, tc.want)
		}
	}
}

// hasIndex reports whether tierflow's schema has an index called name,
// in PostgreSQL's catalog or SQLite's.
func (e *env) hasIndex(name string) bool {
	e.t.Helper()
	var n int
	if err := e.s.DB().QueryRow(`SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = $2`, e.s.Schema(), name).Scan(&n); err == nil {
		return n == 1
	}
	if err := e.s.DB().QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = $1`, name).Scan(&n); err != nil {
		e.t.Fatalf("look for index %s: %v", name, err)
	}
	return n == 1
}
