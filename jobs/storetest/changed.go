package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

var changedCases = []testCase{
	{"incremental runs on facts in the state's database read only who can have changed, and end as full runs do", testChangedOnly},
	{"an incremental run reads every customer where the others' counts need them, and says why", testChangedReadsAll},
	{"CDNOW at monthly as-of dates: incremental runs that read only who can have changed end as full runs do", testChangedCDNOW},
	{"a change column the source does not have fails the incremental run and names it", testChangeColumnMissing},
	{"a state tally left behind by a hand edit of the state fails the incremental run, and a full run mends it", testStaleTally},
	{"after a rule change, incremental runs read only whom the database finds changed, until a run of everyone", testDecidedAfterRuleChange},
}

// After a rule change the marks do not hold, and an incremental run is
// full; where the database decides (PostgreSQL) it still reads only the
// customers the new rules change, and says its marks are stale, so the
// next run is decided the same way; a run of everyone (--full) makes the
// marks hold again. Each night's report, state, history and queue are
// those of the same runs with the engine deciding everyone
// (jobs.Options.EngineOnly); only the marks of the customers left unread
// differ, and are not trusted.
func testDecidedAfterRuleChange(t *testing.T, nb func(t *testing.T) Backend) {
	control, decided := newEnv(t, nb, 300), newEnv(t, nb, 300)
	before := retailWithoutCoverage(t)
	after := RetailRuleSet(t, append([]string{"vip_spend: 50000", "vip_spend: 30000"}, WithoutCoverage...)...)
	if before.Hash == after.Hash {
		t.Fatal("the param change did not change the rules' hash")
	}
	o := nightOptions()
	o.Guard.MaxErrorRate = 0.1
	o.Guard.AllowLarge = true
	o.Incremental = true
	oc := o
	oc.EngineOnly = true
	nights := []struct {
		rs    *rules.RuleSet
		full  bool   // a run of everyone (--full)
		state string // what the decided run's report says of the marks
	}{
		{before, false, "first"}, {before, false, "marks"}, {before, false, "marks"},
		{after, false, "stale"}, {after, false, "stale"}, {after, true, "everyone"}, {after, false, "marks"},
	}
	for night, n := range nights {
		at := day(3 * night)
		for _, e := range []*env{control, decided} {
			changedFacts(e, night, at, false)
		}
		oc, od := oc, o
		if n.full {
			oc.Incremental, od.Incremental = false, false
		}
		rc, rd := control.applyAt(n.rs, at, oc).Report, decided.applyAt(n.rs, at, od).Report
		if f, i := reportFigures(t, rc), reportFigures(t, rd); f != i {
			t.Fatalf("night %d: the report\n%s\nwant the engine's\n%s", night, i, f)
		}
		SameDigests(t, fmt.Sprintf("night %d", night), decided.outcomeDigest(), control.outcomeDigest())
		checkTally(t, fmt.Sprintf("night %d", night), decided, n.rs)
		r := rd.Incremental
		stale := n.state == "stale" && decided.b.Decides
		if r.StaleMarks != stale || (r.Decided > 0) != stale || stale && (!r.InDatabase || r.Full == "" || r.Decided+r.Evaluate != rd.Customers) {
			t.Fatalf("night %d (%s): incremental %+v; want stale marks %v", night, n.state, r, stale)
		}
		if n.state == "marks" && night > 1 && r.Full != "" {
			t.Fatalf("night %d: the run was full (%s); want the marks to hold", night, r.Full)
		}
		if night == 4 && decided.b.Decides && !strings.Contains(r.Full, "marks made under earlier rules") {
			t.Fatalf("night 4: full because %q; want the last run's stale marks named", r.Full)
		}
		at0 := time.Time{}
		if r.InDatabase {
			at0 = at
		}
		if stale || night > 0 && nights[night-1].state == "stale" && decided.b.Decides {
			at0 = time.Unix(1<<40, 0) // marks made under other rules: any may differ
		}
		sameStatesAt(t, fmt.Sprintf("night %d", night), at0, snapshotStates(t, control.s, control.f, n.rs), snapshotStates(t, decided.s, decided.f, n.rs))
		if stale {
			t.Logf("night %d: %d customers read, %d decided unchanged in the database (%d of them checked), %d changed", night, r.Evaluate, r.Decided, r.Checked, rd.Changed)
		}
		if r.Misdecided > 0 {
			t.Errorf("night %d: %d of %d customers the database decided unchanged did change: %v", night, r.Misdecided, r.Checked, r.MisdecidedSamples)
		}
	}
}

// A state tally that no longer counts the state rows (customer_state
// edited by hand, the tally left as it was) does not pass unnoticed:
// the incremental run's counts disagree, so it fails, advises --full,
// names the tally and writes nothing; the full run it advises counts the
// rows afresh, and the next incremental run goes through, as does one
// that finds no tally at all; one that cannot read it is refused with
// the same remedy.
func testStaleTally(t *testing.T, nb func(t *testing.T) Backend) {
	e := newEnv(t, nb, 300)
	rs := retailWithoutCoverage(t)
	o := nightOptions()
	oi := o
	oi.Incremental = true
	e.applyAt(rs, day(0), o)
	e.applyAt(rs, day(3), oi)
	checkTally(t, "before the edit", e, rs)
	e.exec(`DELETE FROM {customer_state} WHERE customer_key IN (SELECT customer_key FROM {customer_state} ORDER BY customer_key LIMIT 3)`)
	state := e.stateDigest()
	oi.AsOf = day(6)
	_, err := jobs.Apply(context.Background(), e.s, e.f, rs, oi)
	if err == nil || !strings.Contains(err.Error(), "run with --full") || !strings.Contains(err.Error(), "state_tally") {
		t.Fatalf("incremental apply after the edit: %v; want it refused, advising --full and naming state_tally", err)
	}
	SameDigests(t, "after the refused apply", e.stateDigest(), state)
	e.applyAt(rs, day(6), o)
	checkTally(t, "after the full run", e, rs)
	r := e.applyAt(rs, day(9), oi).Report.Incremental
	if r.Full != "" || r.ReadsAll != "" || r.NotRead == 0 {
		t.Fatalf("the incremental run after the full one: full %q, reads all %q, %d not read; want most customers unread", r.Full, r.ReadsAll, r.NotRead)
	}
	checkTally(t, "after the next incremental run", e, rs)
	// Without a tally (as before the first apply after schema version
	// 10) the run counts the state rows, and its apply writes a tally.
	e.exec(`DELETE FROM {state_tally}`)
	r = e.applyAt(rs, day(12), oi).Report.Incremental
	if r.Full != "" || r.ReadsAll != "" || r.NotRead == 0 {
		t.Fatalf("the incremental run without a tally: full %q, reads all %q, %d not read; want most customers unread", r.Full, r.ReadsAll, r.NotRead)
	}
	checkTally(t, "after the incremental run without a tally", e, rs)
	// A tally that cannot be read stops the incremental run with the
	// same remedy, which works.
	e.exec(`UPDATE {state_tally} SET groups = 'not JSON'`)
	oi.AsOf = day(15)
	if _, err := jobs.Apply(context.Background(), e.s, e.f, rs, oi); err == nil || !strings.Contains(err.Error(), "cannot be read") ||
		!strings.Contains(err.Error(), "run with --full") {
		t.Fatalf("incremental apply with an unreadable tally: %v; want it refused, advising --full", err)
	}
	e.applyAt(rs, day(15), o)
	checkTally(t, "after the full run that mends an unreadable tally", e, rs)
}

// A change column the source lacks is a mistake in the config: the
// incremental run fails, names it and says what to do, and writes
// nothing.
func testChangeColumnMissing(t *testing.T, nb func(t *testing.T) Backend) {
	e := newEnv(t, nb, 20)
	rs := retailWithoutCoverage(t)
	o := nightOptions()
	o.Incremental = true
	e.applyAt(rs, day(0), o)
	o.AsOf = day(1)
	f := jobs.FactsByRuleSet{rs.Name: jobs.Sources{{Name: jobs.PrimarySource, Facts: e.s.Source(sources[rs.Name]), ChangeColumn: "changed_on"}}}
	_, err := jobs.Apply(t.Context(), e.s, f, rs, o)
	const want = `retail: the change column "changed_on" cannot be read from the source (`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "set change_column in tierflow.yaml to a column of its rows, or leave it out") {
		t.Fatalf("apply with a change column the source lacks: %v; want an error containing %q", err, want)
	}
	if n := e.runStatuses()["succeeded"]; n != 1 {
		t.Errorf("%d succeeded runs, want the first alone", n)
	}
}

// A run cannot leave customers unread when a fact declares value checks
// (each needs every value) or the source repeats a key (on_duplicate
// picks among rows it must see together): the incremental run still
// skips evaluating the asleep customers, reads them all, and its report
// says why.
func testChangedReadsAll(t *testing.T, nb func(t *testing.T) Backend) {
	o := nightOptions()
	o.Incremental = true
	fourth := func(t *testing.T, e *env, f jobs.FactsSource, rs *rules.RuleSet) *jobs.PlanReport {
		t.Helper()
		var out *jobs.Outcome
		for _, at := range []time.Time{day(0), day(3), day(6), day(9)} {
			o.AsOf = at
			var err error
			if out, err = jobs.Apply(t.Context(), e.s, f, rs, o); err != nil {
				t.Fatal(err)
			}
			checkDrift(t, out, at)
		}
		return out.Report
	}
	t.Run("value checks", func(t *testing.T) {
		e := newEnv(t, nb, 50)
		rs := RetailRuleSet(t, append([]string{"spend_12m: number ", "spend_12m: {type: number, min: 0} "}, WithoutCoverage...)...)
		r := fourth(t, e, e.f, rs).Incremental
		if r.NotRead != 0 || r.Skipped == 0 || !strings.Contains(r.ReadsAll, "facts.spend_12m declares value checks") {
			t.Errorf("fourth night: %d not read, %d skipped, reads all because %q; want every customer read, asleep ones skipped, for the check on spend_12m",
				r.NotRead, r.Skipped, r.ReadsAll)
		}
	})
	t.Run("duplicate keys", func(t *testing.T) {
		e := newEnv(t, nb, 50)
		src := jobs.Sources{{Name: jobs.PrimarySource, OnDuplicate: jobs.OnDuplicateFirst,
			Facts: e.s.Source("SELECT * FROM customer_facts UNION ALL SELECT * FROM customer_facts WHERE customer_id = 7")}}
		rep := fourth(t, e, src, retailWithoutCoverage(t))
		r := rep.Incremental
		if r.NotRead != 0 || r.Skipped == 0 || r.ReadsAll != "the source repeats 1 customer keys" || rep.Quality.Sources[0].Duplicates != 1 {
			t.Errorf("fourth night: %d not read, %d skipped, reads all because %q, %d duplicates; want every customer read for the repeated key",
				r.NotRead, r.Skipped, r.ReadsAll, rep.Quality.Sources[0].Duplicates)
		}
	})
}

// Two databases with the same facts in customer_facts, night after
// night: one applied with jobs.Options.Incremental, whose runs leave the
// customers asleep by their marks in the database (jobs.ChangedReader),
// one with every customer read and evaluated. The facts change as
// changedFacts says: new orders, falling spend, customers leaving and
// arriving, a nullable fact emptied, a required one nulled and mended.
// After every night both hold the same state (marks included), history,
// queue and cooldowns, and their reports give the same sizes, moves,
// actions, guards and data-quality counts; after the first night the
// incremental runs read most customers not at all.
func testChangedOnly(t *testing.T, nb func(t *testing.T) Backend) {
	t.Run("without contact limits", func(t *testing.T) { checkChangedOnly(t, nb, retailWithoutCoverage(t), false) })
	// The example's limits and holdouts: customers with contacts in the
	// limits' window are read.
	t.Run("with contact limits", func(t *testing.T) { checkChangedOnly(t, nb, retailWithheld(t, WithoutCoverage...), false) })
	// A change column (jobs.Source.ChangeColumn) that every change of the
	// nights sets: only those rows' digests are compared.
	t.Run("with a change column", func(t *testing.T) { checkChangedOnly(t, nb, retailWithheld(t, WithoutCoverage...), true) })
	// Customers who leave the source leave their segments: an incremental
	// run hands them out after the others it read (its Keys come once the
	// read is over), a full run among them in key order.
	t.Run("under on_missing: exit", func(t *testing.T) {
		checkChangedOnly(t, nb, RetailRuleSet(t, append([]string{"ruleset: retail\n", "ruleset: retail\non_missing: exit\n"}, WithoutCoverage...)...), false)
	})
}

// changedNights is how many nights checkChangedOnly runs, three days
// apart: past day 60, when account_review fires for the customers who
// stayed in a VIP or key segment (a move of none of them).
const changedNights = 24

// checkChangedOnly runs changedNights nights of changedFacts on two databases,
// one applied with every customer evaluated and one incrementally, with
// customer_facts.updated_at as its change column when change is set.
func checkChangedOnly(t *testing.T, nb func(t *testing.T) Backend, rs *rules.RuleSet, change bool) {
	full, incr := newEnv(t, nb, 300), newEnv(t, nb, 300)
	if change {
		for _, e := range []*env{full, incr} {
			e.exec(`ALTER TABLE customer_facts ADD COLUMN updated_at TIMESTAMP`)
			e.exec(`UPDATE customer_facts SET updated_at = $1`, stamp(day(-30)))
		}
		incr.f = jobs.FactsByRuleSet{rs.Name: jobs.Sources{{Name: jobs.PrimarySource, Facts: incr.s.Source(sources[rs.Name]), ChangeColumn: "updated_at"}}}
	}
	compared := 0
	o := nightOptions()
	o.Guard.MaxErrorRate = 0.1 // the nights with spend nulled
	oi := o
	oi.Incremental = true
	read, notRead, checked, misdecided := 0, 0, 0, 0
	for night := 0; night < changedNights; night++ {
		at := day(3 * night)
		for _, e := range []*env{full, incr} {
			changedFacts(e, night, at, change)
		}
		rf, ri := full.applyAt(rs, at, o).Report, incr.applyAt(rs, at, oi).Report
		if f, i := reportFigures(t, rf), reportFigures(t, ri); f != i {
			t.Fatalf("night %d: the incremental report\n%s\nwant the full run's\n%s", night, i, f)
		}
		r := ri.Incremental
		if night > 0 && (r.Full != "" || r.ReadsAll != "") {
			t.Fatalf("night %d: the incremental run read every customer: %s%s", night, r.Full, r.ReadsAll)
		}
		if rf.Incremental.NotRead != 0 {
			t.Fatalf("night %d: a run without Incremental left %d customers unread", night, rf.Incremental.NotRead)
		}
		if night > 0 {
			read, notRead = read+ri.Customers-r.NotRead, notRead+r.NotRead
			if r.InDatabase != incr.b.Decides {
				t.Fatalf("night %d: the database decided who is unchanged: %v (%s), want %v", night, r.InDatabase, r.NotInDatabase, incr.b.Decides)
			}
			if night == 1 {
				t.Logf("the database decides who is unchanged: %v %s", r.InDatabase, r.NotInDatabase)
			}
			checked, misdecided = checked+r.Checked, misdecided+r.Misdecided
			if r.Misdecided > 0 {
				t.Errorf("night %d: %d of %d customers the database decided unchanged did change: %v", night, r.Misdecided, r.Checked, r.MisdecidedSamples)
			}
		}
		if change && night > 0 {
			if r.ChangeColumn != "updated_at" {
				t.Fatalf("night %d: the report names change column %q, want updated_at", night, r.ChangeColumn)
			}
			if want := latestStamp(t, incr); !r.ChangedThrough.Equal(want) {
				t.Fatalf("night %d: the run saw changes through %v, want the column's latest value %v", night, r.ChangedThrough, want)
			}
			if night > 1 && r.ChangedSince.IsZero() {
				t.Fatalf("night %d: the run compared every row's digest, not only those changed since the last run's latest change", night)
			}
			if !r.ChangedSince.IsZero() {
				compared++
			}
		}
		checkTally(t, fmt.Sprintf("night %d, full", night), full, rs)
		checkTally(t, fmt.Sprintf("night %d, incremental", night), incr, rs)
		SameDigests(t, fmt.Sprintf("night %d", night), incr.outcomeDigest(), full.outcomeDigest())
		decidedAt := time.Time{}
		if r.InDatabase {
			decidedAt = at
		}
		sameStatesAt(t, fmt.Sprintf("night %d", night), decidedAt, snapshotStates(t, full.s, full.f, rs), snapshotStates(t, incr.s, incr.f, rs))
	}
	t.Logf("customer-nights after the first: %d read, %d left unread; %d nights read by the change column; %d decisions of the database checked, %d wrong",
		read, notRead, compared, checked, misdecided)
	if incr.b.Decides && checked == 0 {
		t.Errorf("no decision of the database was checked against the engine's in %d nights", changedNights)
	}
	if notRead <= read {
		t.Errorf("the incremental runs read %d customer-nights and left %d unread: want most unread", read, notRead)
	}
	if change {
		checkChangeColumnSwitch(t, full, incr, rs)
	}
}

// checkTally fails the test unless the state tally of rs that e's
// applies keep (kernel.TallyWrite) is a count of its state rows.
func checkTally(t *testing.T, what string, e *env, rs *rules.RuleSet) {
	t.Helper()
	s, ok := e.s.(interface {
		CheckTally(ctx context.Context, ruleset string) error
	})
	if !ok {
		t.Fatalf("%T cannot check its state tally", e.s)
	}
	if err := s.CheckTally(context.Background(), rs.Name); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// checkChangeColumnSwitch names another change column, whose values are
// all older than the last run's latest change of the first: the next
// incremental run compares every row's digest rather than start from a
// time of another column, and finds the spend doubled for every 31st
// customer, as the full run does.
func checkChangeColumnSwitch(t *testing.T, full, incr *env, rs *rules.RuleSet) {
	at := day(3 * changedNights)
	for _, e := range []*env{full, incr} {
		e.exec(`ALTER TABLE customer_facts ADD COLUMN loaded_at TIMESTAMP`)
		e.exec(`UPDATE customer_facts SET loaded_at = $1`, stamp(day(-30)))
		e.exec(`UPDATE customer_facts SET spend_12m = spend_12m * 2 WHERE customer_id % 31 = 0`)
	}
	incr.f = jobs.FactsByRuleSet{rs.Name: jobs.Sources{{Name: jobs.PrimarySource, Facts: incr.s.Source(sources[rs.Name]), ChangeColumn: "loaded_at"}}}
	o := nightOptions()
	o.Guard.MaxErrorRate = 0.1
	oi := o
	oi.Incremental = true
	rf, ri := full.applyAt(rs, at, o).Report, incr.applyAt(rs, at, oi).Report
	if r := ri.Incremental; r.ChangeColumn != "loaded_at" || !r.ChangedSince.IsZero() {
		t.Fatalf("after a switch of change column the run read %q from %v, want loaded_at and every row's digest", r.ChangeColumn, r.ChangedSince)
	}
	if f, i := reportFigures(t, rf), reportFigures(t, ri); f != i {
		t.Fatalf("after a switch of change column: the incremental report\n%s\nwant the full run's\n%s", i, f)
	}
	decidedAt := time.Time{}
	if ri.Incremental.InDatabase {
		decidedAt = at
	}
	sameStatesAt(t, "after a switch of change column", decidedAt, snapshotStates(t, full.s, full.f, rs), snapshotStates(t, incr.s, incr.f, rs))
}

// changedFacts changes customer_facts before night number night (at
// at): new orders for every 11th customer on every fifth night, spend
// halved for every 13th on every seventh; on night 4 every 17th customer
// leaves, on night 6 twenty arrive; on night 9 every 19th loses its last
// order (a nullable fact), and every 23rd has no spend (a required fact:
// a fact error) from night 12 to night 15; on nights 8 and 16 a third of
// the pending actions are cancelled; on night 11 every 29th customer's
// spend grows. With stamped, every change sets updated_at to an hour
// before at, but for night 11's, which a write that committed late
// stamped two hours before the last night's as-of: the change column's
// lookback finds it.
func changedFacts(e *env, night int, at time.Time, stamped bool) {
	e.t.Helper()
	set := ""
	if stamped {
		set = ", updated_at = '" + stamp(at.Add(-time.Hour)) + "'"
	}
	if night > 0 && night%5 == 0 {
		e.exec(`UPDATE customer_facts SET last_order_at = $1, orders_12m = orders_12m + 1, spend_12m = spend_12m + 120`+set+` WHERE customer_id % 11 = 0`,
			stamp(at.Add(-time.Hour)))
	}
	if night > 0 && night%7 == 0 {
		e.exec(`UPDATE customer_facts SET spend_12m = spend_12m / 2` + set + ` WHERE customer_id % 13 = 0`)
	}
	switch night {
	case 4:
		e.exec(`DELETE FROM customer_facts WHERE customer_id % 17 = 0`)
	case 6:
		InsertCustomers(e.t, e.s.DB(), 301, 20)
		if stamped {
			e.exec(`UPDATE customer_facts SET updated_at = $1 WHERE customer_id > 300`, stamp(at.Add(-time.Hour)))
		}
	case 9:
		e.exec(`UPDATE customer_facts SET last_order_at = NULL` + set + ` WHERE customer_id % 19 = 0`)
	case 12:
		e.exec(`UPDATE customer_facts SET spend_12m = NULL` + set + ` WHERE customer_id % 23 = 0`)
	case 11:
		if stamped {
			set = ", updated_at = '" + stamp(at.AddDate(0, 0, -3).Add(-2*time.Hour)) + "'"
		}
		e.exec(`UPDATE customer_facts SET spend_12m = spend_12m * 3 + 500` + set + ` WHERE customer_id % 29 = 0`)
	case 15:
		e.exec(`UPDATE customer_facts SET spend_12m = 100` + set + ` WHERE customer_id % 23 = 0`)
	case 8, 16:
		cancelPending(e)
	}
}

// stamp is a time as the facts' SQL takes it in both stores.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// latestStamp is the latest updated_at of e's customer_facts.
func latestStamp(t *testing.T, e *env) time.Time {
	t.Helper()
	var v any
	e.scan(`SELECT max(updated_at) FROM customer_facts`, nil, &v)
	return storedTime(t, v)
}

// cancelPending cancels every pending action of every third customer,
// through the store's queue: contacts the limits no longer count.
func cancelPending(e *env) {
	e.t.Helper()
	qs, ok := e.s.(QueueStore)
	if !ok {
		e.t.Fatalf("%T cannot cancel actions", e.s)
	}
	rows, err := e.s.DB().Query(e.sql(`SELECT id FROM {actions} WHERE status = 'pending' AND customer_key IN (SELECT customer_key FROM {customer_state}) ORDER BY idempotency_key`))
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		e.t.Fatal(err)
	}
	for i, id := range ids {
		if i%3 != 0 {
			continue
		}
		if err := qs.CancelAction(e.t.Context(), id); err != nil {
			e.t.Fatal(err)
		}
		// The customer wakes on the next run: a contact less may free
		// an action the limits held back.
		var wake any
		e.scan(`SELECT st.wake_at FROM {customer_state} st JOIN {actions} a ON a.ruleset = st.ruleset AND a.customer_key = st.customer_key WHERE a.id = $1`, []any{id}, &wake)
		if got := storedTime(e.t, wake); !got.Equal(engine.EveryRun) {
			e.t.Fatalf("after cancelling action %d its customer wakes at %v, want on every run (%v)", id, got, engine.EveryRun)
		}
	}
}

// storedTime reads a time of tierflow's tables as a store's driver
// returns it: a time, or RFC 3339 text.
func storedTime(t testing.TB, v any) time.Time {
	t.Helper()
	switch x := v.(type) {
	case time.Time:
		return x
	case string:
		at, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			t.Fatal(err)
		}
		return at
	case []byte:
		return storedTime(t, string(x))
	}
	t.Fatalf("a stored time of type %T", v)
	return time.Time{}
}

// CheckUniqueKey checks the dialect's UniqueKey on db, which lets a run
// skip counting a table's repeated keys: a primary key of one column and
// a unique index of its own make a column unique; a plain index, a key
// of two columns, a partial unique index and a missing table do not.
func CheckUniqueKey(t *testing.T, db *sql.DB, d *kernel.Dialect) {
	ctx := t.Context()
	for _, ddl := range []string{
		`CREATE TABLE uk_pk (id integer PRIMARY KEY, v text)`,
		`CREATE TABLE uk_unique (id integer, v text)`, `CREATE UNIQUE INDEX uk_unique_id ON uk_unique (id)`,
		`CREATE TABLE uk_plain (id integer, v text)`, `CREATE INDEX uk_plain_id ON uk_plain (id)`,
		`CREATE TABLE uk_pair (id integer, v text, PRIMARY KEY (id, v))`,
		`CREATE TABLE uk_partial (id integer, v text)`, `CREATE UNIQUE INDEX uk_partial_id ON uk_partial (id) WHERE v IS NOT NULL`,
	} {
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	for _, c := range []struct {
		table, column string
		want          bool
	}{
		{"uk_pk", "id", true}, {"uk_pk", "v", false}, {"uk_unique", "id", true}, {"uk_plain", "id", false},
		{"uk_pair", "id", false}, {"uk_partial", "id", false}, {"uk_missing", "id", false},
	} {
		got, err := d.UniqueKey(ctx, db, []string{c.table}, c.column)
		if err != nil || got != c.want {
			t.Errorf("UniqueKey(%s, %s) = %v, %v; want %v", c.table, c.column, got, err, c.want)
		}
	}
}

// The real CDNOW purchases (readCDNOW, cdnowFacts) in customer_facts of
// two databases, as of the first of each month from March to July 1998,
// when most of the 23,570 customers have fallen silent: one applied with
// incremental runs that leave the asleep customers in the database, one
// with every customer read. After every apply their reports agree, and
// so do their state, history, queue and cooldowns; most customer-months
// after the first are not read. (testStateCDNOW covers every month from
// February 1997, with the facts elsewhere.)
func testChangedCDNOW(t *testing.T, nb func(t *testing.T) Backend) {
	orders := readCDNOW(t)
	rs := retailWithoutCoverage(t)
	full, incr := newEnv(t, nb, 0), newEnv(t, nb, 0)
	o := nightOptions()
	oi := o
	oi.Incremental = true
	read, notRead := 0, 0
	for m := 0; m < 5; m++ {
		at := time.Date(1998, time.March+time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		var month []Customer
		for _, c := range cdnowFacts(orders, at) {
			month = append(month, c)
		}
		for _, e := range []*env{full, incr} {
			upsertCustomers(e, month)
		}
		rf, ri := full.applyAt(rs, at, o).Report, incr.applyAt(rs, at, oi).Report
		if f, i := reportFigures(t, rf), reportFigures(t, ri); f != i {
			t.Fatalf("%s: the incremental report\n%s\nwant the full run's\n%s", at.Format(time.DateOnly), i, f)
		}
		if m > 0 {
			read, notRead = read+ri.Customers-ri.Incremental.NotRead, notRead+ri.Incremental.NotRead
		}
		SameDigests(t, at.Format(time.DateOnly), incr.outcomeDigest(), full.outcomeDigest())
	}
	t.Logf("customer-months after the first: %d read, %d left in the database", read, notRead)
	if notRead <= read {
		t.Errorf("the incremental runs read %d customer-months and left %d unread: want most unread", read, notRead)
	}
}

// upsertCustomers inserts or replaces the facts of cs in customer_facts,
// in one transaction.
func upsertCustomers(e *env, cs []Customer) {
	e.t.Helper()
	tx, err := e.s.DB().Begin()
	if err != nil {
		e.t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	for len(cs) > 0 {
		n := min(len(cs), insertRows)
		var args []any
		for _, c := range cs[:n] {
			args = append(args, c.values()...)
		}
		if _, err := tx.Exec(insertSQL(n)+onConflictReplace, args...); err != nil {
			e.t.Fatalf("upsert customers: %v", err)
		}
		cs = cs[n:]
	}
	if err := tx.Commit(); err != nil {
		e.t.Fatal(err)
	}
}
