package storetest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

var stateMigrateCases = []testCase{
	{"migrate: 0008 carries every assignment and cooldown into one state row per customer", testMigrateStateRows},
}

// oldAssignment is a row of the assignments table before migration 0008.
type oldAssignment struct {
	ruleset, segmentation, key, segment, since string
	pending                                    any // nil: none
	reason                                     string
	run                                        int64
}

// oldLastAction is a row of action_last before migration 0008.
type oldLastAction struct{ ruleset, action, key, at string }

// The state of a database at version 7: two rule sets; customers with a
// segment in every segmentation, in some (those that left the others),
// with a pending downgrade, with a segment in a segmentation the rules
// no longer define; cooldowns of several actions, of a segment sync, and
// of a customer who left every segmentation; keys that sort differently
// by bytes and by locale, and one with a quote.
var (
	oldAssignments = []oldAssignment{
		{"retail", "value_tier", "1", "vip", "2024-01-05T00:00:00.000000Z", "2024-06-20T00:00:00.000000Z", "matched", 3},
		{"retail", "lifecycle", "1", "active", "2023-11-01T08:30:00.123456Z", nil, "fallback", 2},
		{"retail", "source", "1", "online", "2023-11-01T00:00:00.000000Z", nil, "matched", 1},
		{"retail", "value_tier", "10", "small", "2024-06-01T00:00:00.000000Z", nil, "fallback", 3},
		{"retail", "lifecycle", "10", "at_risk", "2024-06-01T00:00:00.000000Z", nil, "matched", 3},
		{"retail", "lifecycle", "9", "churned", "2024-02-02T00:00:00.000000Z", nil, "matched", 2},
		{"retail", "value_tier", "B", "key", "2024-03-03T00:00:00.000000Z", "2024-06-30T23:59:59.999999Z", "sticky", 3},
		{"retail", "retired_seg", "B", "gold", "2022-01-01T00:00:00.000000Z", nil, "matched", 1},
		{"retail", "source", "ä", "store", "2024-04-04T00:00:00.000000Z", nil, "matched", 1},
		{"retail", "value_tier", "o'k", "regular", "2024-05-05T00:00:00.000000Z", nil, "matched", 2},
		{"b2b", "tier", "1", "key_account", "2024-01-01T00:00:00.000000Z", nil, "matched", 4},
		{"b2b", "tier", "2", "standard", "2024-01-01T00:00:00.000000Z", "2024-06-01T00:00:00.000000Z", "sticky", 4},
	}
	oldLastActions = []oldLastAction{
		{"retail", "winback_call", "1", "2024-06-10T00:00:00.000000Z"},
		{"retail", "onboarding_message", "1", "2023-11-01T00:00:00.000000Z"},
		{"retail", "sync.lifecycle", "1", "2024-06-10T00:00:00.000000Z"},
		{"retail", "winback_call", "10", "2024-06-02T00:00:00.000000Z"},
		{"retail", "account_review", "left", "2024-05-01T00:00:00.000000Z"},
		{"b2b", "call", "2", "2024-06-15T12:00:00.000000Z"},
	}
)

const (
	oldAssignmentsQ = `SELECT ruleset, segmentation, customer_key, segment, since, pending_since, reason, run_id FROM {assignments}
		ORDER BY ruleset, segmentation, customer_key`
	oldLastActionsQ = `SELECT ruleset, action, customer_key, queued_at FROM {action_last} ORDER BY ruleset, action, customer_key`
)

// Migration 0008 replaces assignments and action_last with state rows.
// Every row of the old tables reads the same afterwards through the views
// of the same names; the store reads the same state as the old tables
// held, through a state reader (segments, dates and cooldowns by name, a
// customer with only a cooldown unlisted), a joined snapshot and a
// customer's record (the runs that wrote each assignment, the retired
// segmentation's too); the views refuse writes; and an apply then works
// on the migrated state, keeping the retired segmentation and the other
// rule set as they were.
func testMigrateStateRows(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newBareEnv(t, nb)
	e.b.SetUpVersion(t, e.s, 7)
	for _, a := range oldAssignments {
		e.exec(`INSERT INTO {assignments} (ruleset, segmentation, customer_key, segment, since, pending_since, reason, run_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, a.ruleset, a.segmentation, a.key, a.segment, a.since, a.pending, a.reason, a.run)
	}
	for _, l := range oldLastActions {
		e.exec(`INSERT INTO {action_last} (ruleset, action, customer_key, queued_at) VALUES ($1, $2, $3, $4)`, l.ruleset, l.action, l.key, l.at)
	}
	assignmentsBefore, lastBefore := e.rowsText(oldAssignmentsQ), e.rowsText(oldLastActionsQ)

	if st, err := e.s.Migrate(ctx, false); err != nil || st.Current != st.Latest {
		t.Fatalf("migrate from version 7: %+v, %v", st, err)
	}
	if got := e.rowsText(oldAssignmentsQ); got != assignmentsBefore {
		t.Errorf("the assignments view reads:\n%s\nthe table held:\n%s", got, assignmentsBefore)
	}
	if got := e.rowsText(oldLastActionsQ); got != lastBefore {
		t.Errorf("the action_last view reads:\n%s\nthe table held:\n%s", got, lastBefore)
	}
	if n := e.count(`SELECT count(*) FROM {customer_state}`); n != 9 {
		t.Errorf("%d state rows, want one per rule set and customer: 9", n)
	}
	for _, q := range []string{`DELETE FROM {assignments}`, `UPDATE {action_last} SET queued_at = queued_at`} {
		if _, err := e.s.DB().Exec(e.sql(q)); err == nil {
			t.Errorf("%s after migrate: no error, want the view to refuse it", q)
		}
	}

	rs := RetailRuleSet(t)
	want := oldState(t, rs)
	keys := []string{"1", "10", "9", "B", "left", "o'k", "ä", "nobody"}
	got, initial := states(t, e.s, rs, keys)
	if initial {
		t.Error("the migrated state reads as a first run")
	}
	sameByName(t, "state read after migrate", rs, want, rs, got)
	r, err := e.s.OpenState(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, want := allKeys(t, r.(jobs.StateKeys), 3), []string{"1", "10", "9", "B", "o'k", "ä"}; !slices.Equal(got, want) {
		t.Errorf("Keys after migrate = %q, want %q: every customer with a segment, in byte order", got, want)
	}
	checkMigratedRecord(t, e, "B")

	CreateFacts(t, e.s, e.b.FactsDDL, 20) // customers 1 to 20: 1, 10 and 9 have state
	joined := snapshotStates(t, e.s, e.f, rs)
	sameByName(t, "state read joined to facts after migrate", rs, only(want, joined), rs, joined)
	o := Options()
	o.Guard.AllowLarge = true
	e.applyAt(rs, day(0), o)
	const untouchedQ = `SELECT ruleset, segmentation, customer_key, segment, since, pending_since, reason, run_id FROM {assignments}
		WHERE ruleset = 'b2b' OR segmentation = 'retired_seg' ORDER BY ruleset, segmentation, customer_key`
	if got, want := e.rowsText(untouchedQ), keepLines(assignmentsBefore, "b2b ", " retired_seg "); got != want || want == "" {
		t.Errorf("after an apply of retail, the other rule set and the retired segmentation read:\n%s\nwant:\n%s", got, want)
	}
	const b2bQ = `SELECT ruleset, action, customer_key, queued_at FROM {action_last} WHERE ruleset = 'b2b' ORDER BY customer_key`
	if got, want := e.rowsText(b2bQ), keepLines(lastBefore, "b2b "); got != want || want == "" {
		t.Errorf("after an apply of retail, the other rule set's cooldowns read:\n%s\nwant:\n%s", got, want)
	}
}

// only is the part of want whose keys are in got.
func only(want, got map[string]engine.State) map[string]engine.State {
	out := map[string]engine.State{}
	for k, st := range want {
		if _, ok := got[k]; ok {
			out[k] = st
		}
	}
	return out
}

// keepLines keeps the lines of text that start with the first of marks
// or contain one of the others.
func keepLines(text string, marks ...string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		keep := strings.HasPrefix(line, marks[0])
		for _, m := range marks[1:] {
			keep = keep || strings.Contains(line, m)
		}
		if keep {
			b.WriteString(line)
		}
	}
	return b.String()
}

// oldState is the state oldAssignments and oldLastActions give the
// customers of rs, by key.
func oldState(t *testing.T, rs *rules.RuleSet) map[string]engine.State {
	t.Helper()
	out := map[string]engine.State{}
	get := func(key string) engine.State {
		if st, ok := out[key]; ok {
			return st
		}
		return engine.State{Segments: make([]engine.Assignment, len(rs.Segmentations)), LastActions: make([]time.Time, len(rs.Actions))}
	}
	parse := func(s any) time.Time {
		if s == nil {
			return time.Time{}
		}
		at, err := time.Parse(time.RFC3339Nano, s.(string))
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	for _, a := range oldAssignments {
		if i := segmentation(rs, a.segmentation); a.ruleset == rs.Name && i >= 0 {
			st := get(a.key)
			st.Segments[i] = engine.Assignment{Segment: a.segment, Since: parse(a.since), PendingSince: parse(a.pending)}
			out[a.key] = st
		}
	}
	for _, l := range oldLastActions {
		if i := actionIndex(rs, l.action); l.ruleset == rs.Name && i >= 0 {
			st := get(l.key)
			st.LastActions[i] = parse(l.at)
			out[l.key] = st
		}
	}
	out["nobody"] = get("nobody")
	return out
}

// checkMigratedRecord checks customer key's record after migrate: every
// assignment it had in retail, by segmentation name, with the run that
// wrote it.
func checkMigratedRecord(t *testing.T, e *env, key string) {
	t.Helper()
	rec, err := jobs.ReadCustomerRecord(context.Background(), e.s, "retail", key)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, a := range oldAssignments {
		if a.ruleset == "retail" && a.key == key {
			want = append(want, fmt.Sprintf("%s=%s since %s run %d", a.segmentation, a.segment, a.since, a.run))
		}
	}
	sort.Strings(want)
	var got []string
	for _, a := range rec.Assignments {
		got = append(got, fmt.Sprintf("%s=%s since %s run %d", a.Segmentation, a.Segment, a.Since.UTC().Format("2006-01-02T15:04:05.000000Z"), a.RunID))
	}
	if !slices.Equal(got, want) {
		t.Errorf("customer %s's record after migrate: %q, want %q", key, got, want)
	}
}
