package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

var runCases = []testCase{
	{"run records: succeeded, blocked, failed, skipped", testRunRecords},
}

// Every apply leaves one run record with its outcome, counts, times, the
// plan it computed (when it got that far) and, unless it succeeded, why;
// Runs lists them newest first.
func testRunRecords(t *testing.T, nb func(t *testing.T) Backend) {
	ctx := context.Background()
	e := newEnv(t, nb, 1000)
	rs := RetailRuleSet(t)
	clock := asOf.Add(time.Hour)
	o := Options()
	o.Now = func() time.Time { clock = clock.Add(time.Second); return clock }

	type want struct {
		status  string
		err     error  // what Apply returns, if a sentinel
		msg     string // in the run's error
		detail  bool   // the run stores its plan
		counted bool   // customers are counted
	}
	broken := renamed(t, brokenName)
	steps := []struct {
		name  string
		setup func()
		rs    *rules.RuleSet
		hold  bool // another apply holds the rule set's lock
		want  want
	}{
		{"succeeded", nil, rs, false, want{status: "succeeded", detail: true, counted: true}},
		{"blocked", func() { e.exec(`UPDATE customer_facts SET spend_12m = 0, spend_prev_12m = 0, orders_12m = 0`) }, rs, false,
			want{status: "blocked", err: jobs.ErrBlocked, msg: "would change segment", detail: true, counted: true}},
		{"failed: rule errors", func() { e.exec(`UPDATE customer_facts SET spend_12m = NULL WHERE customer_id % 10 = 0`) }, rs, false,
			want{status: "failed", err: jobs.ErrTooManyRuleErrors, msg: "failed a rule", detail: true, counted: true}},
		{"failed: facts source", nil, broken, false, want{status: "failed", msg: "customer_facts_that_do_not_exist"}},
		{"skipped", nil, rs, true, want{status: "skipped", err: jobs.ErrLocked, msg: "another apply"}},
	}
	var ids []int64
	for _, st := range steps {
		if st.setup != nil {
			st.setup()
		}
		var holder jobs.ApplyTx
		if st.hold {
			var err error
			if holder, err = e.open().BeginApply(ctx, st.rs, jobs.RunInfo{RuleSet: st.rs.Name, RulesHash: st.rs.Hash, AsOf: asOf, Started: asOf}); err != nil {
				t.Fatal(err)
			}
		}
		started := clock.Add(time.Second)
		out, err := jobs.Apply(ctx, e.s, e.f, st.rs, o)
		if holder != nil {
			if err := holder.Rollback(); err != nil {
				t.Fatal(err)
			}
		}
		w := st.want
		switch {
		case w.err != nil && !errors.Is(err, w.err),
			w.status == "succeeded" && err != nil,
			w.status != "succeeded" && err == nil:
			t.Fatalf("%s: apply returned %v", st.name, err)
		}
		if out == nil || out.RunID == 0 {
			t.Fatalf("%s: no run record", st.name)
		}
		ids = append(ids, out.RunID)
		runs, err := e.s.Runs(ctx, st.rs.Name, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || runs[0].ID != out.RunID {
			t.Fatalf("%s: the newest run of %s is %+v, want run %d", st.name, st.rs.Name, runs, out.RunID)
		}
		r := runs[0]
		if r.Status != w.status || r.Kind != "apply" || r.RuleSet != st.rs.Name || r.RulesHash != st.rs.Hash || !r.AsOf.Equal(asOf) || r.Slot != nil ||
			!r.Started.Equal(started) || r.Finished == nil || !r.Finished.After(r.Started) {
			t.Fatalf("%s: run %+v; want %s, kind apply, as-of %s, started %s and finished after", st.name, r, w.status, asOf, started)
		}
		if (r.Error == nil) != (w.msg == "") || (r.Error != nil && !strings.Contains(*r.Error, w.msg)) {
			t.Fatalf("%s: run error %v, want one containing %q", st.name, r.Error, w.msg)
		}
		if (r.Customers == 1000) != w.counted {
			t.Fatalf("%s: run counts %d customers", st.name, r.Customers)
		}
		var detail []byte
		e.scan(`SELECT detail FROM {runs} WHERE id = $1`, []any{out.RunID}, &detail)
		if (detail != nil) != w.detail {
			t.Fatalf("%s: stored plan %q, want one: %v", st.name, detail, w.detail)
		}
		if detail != nil {
			var rep jobs.PlanReport
			if err := json.Unmarshal(detail, &rep); err != nil || rep.Customers != 1000 || rep.RuleSet != retailName {
				t.Fatalf("%s: stored plan %s: %v", st.name, detail, err)
			}
		}
	}

	all, err := e.s.Runs(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(ids) {
		t.Fatalf("Runs lists %d runs, want %d", len(all), len(ids))
	}
	for i, r := range all {
		if want := ids[len(ids)-1-i]; r.ID != want {
			t.Fatalf("Runs lists run %d at %d, want %d (newest first)", r.ID, i, want)
		}
	}
	if two, err := e.s.Runs(ctx, "", 2); err != nil || len(two) != 2 || two[0].ID != ids[len(ids)-1] {
		t.Fatalf("Runs with limit 2: %+v, %v", two, err)
	}
	if _, err := e.s.Runs(ctx, "nothing", 10); err != nil {
		t.Fatal(err)
	}
}
