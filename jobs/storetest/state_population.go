package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

var statePopulationCases = []stateCase{
	{"an emptied facts source is blocked against the last successful run", testStateEmptiedSource},
	{"a halved facts source is blocked, a tenth fewer customers is not", testStateShrunkSource},
	{"LastSucceeded is the latest succeeded run of the rule set", testStateLastSucceeded},
}

// An emptied facts source (TRUNCATE customer_facts) is not a success:
// the apply is refused with the figures, recorded blocked, and writes
// nothing; the plan says the same. With AllowLarge it goes through, and
// that run of no customers becomes the one later runs compare with.
func testStateEmptiedSource(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 1000)
	rs := RetailRuleSet(t)
	first := e.applyAt(rs, day(0), Options())
	before := e.view(rs, true)
	removed := e.f.keepRows(func(int) bool { return false })

	want := fmt.Sprintf("the facts source returned 0 customers; the last successful run (run %d) evaluated 1,000: "+
		"check the source (an emptied or failed load?), then rerun with --allow-large-change if intended", first.RunID)
	out := e.blockedApply(rs, day(1), Options(), want, first.RunID, 0)
	if out.Report.Customers != 0 {
		t.Fatalf("blocked apply evaluated %d customers, want 0", out.Report.Customers)
	}
	e.samePlanVerdict(rs, day(1), Options(), want, first.RunID)
	e.f.restore(removed)
	SameDigests(t, "state after an apply of an emptied source", e.view(rs, true), before)

	removed = e.f.keepRows(func(int) bool { return false })
	o := Options()
	o.Guard.AllowLarge = true
	empty := e.applyAt(rs, day(1), o)
	if r := e.runByID(empty.RunID); r.Status != "succeeded" || r.Customers != 0 {
		t.Fatalf("apply of an emptied source with AllowLarge: run %+v, want succeeded with 0 customers", r)
	}
	e.f.restore(removed)
	refill := e.applyAt(rs, day(1), Options())
	if p := refill.Report.Guard.PreviousRun; p == nil || !samePrev(*p, jobs.PreviousRun{ID: empty.RunID}) {
		t.Fatalf("the refill compared with %+v, want run %d of 0 customers", p, empty.RunID)
	}
	if got := e.runStatuses(); got["succeeded"] != 3 || got["blocked"] != 1 || len(got) != 2 {
		t.Fatalf("run statuses %v", got)
	}
}

// Half the facts rows gone is refused like an emptied source; a tenth
// gone is not, and from then on runs compare with that smaller run,
// not with the first.
func testStateShrunkSource(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 1000)
	rs := RetailRuleSet(t)
	first := e.applyAt(rs, day(0), Options())
	before := e.view(rs, true)
	removed := e.f.keepRows(func(id int) bool { return id%2 == 1 })

	want := fmt.Sprintf("the facts source returned 500 customers, 50.0%% fewer than the 1,000 of the last successful run (run %d), "+
		"more than the limit of 25.0%%: check the source (a partial load?), then rerun with --allow-large-change if intended", first.RunID)
	e.blockedApply(rs, day(1), Options(), want, first.RunID, 500)
	e.samePlanVerdict(rs, day(1), Options(), want, first.RunID)
	e.f.restore(removed)
	SameDigests(t, "state after an apply of a halved source", e.view(rs, true), before)

	e.f.keepRows(func(id int) bool { return id%10 != 0 })
	tenth := e.applyAt(rs, day(1), Options())
	if g := tenth.Report.Guard; g.Blocked || g.PreviousRun == nil || !samePrev(*g.PreviousRun, jobs.PreviousRun{ID: first.RunID, Customers: 1000}) {
		t.Fatalf("apply of 900 customers after 1,000: guard %+v, want it passed, compared with run %d", g, first.RunID)
	}
	if r := e.runByID(tenth.RunID); r.Status != "succeeded" || r.Customers != 900 {
		t.Fatalf("run record of the apply of 900 customers: %+v", r)
	}
	// 681 customers are 24.3% fewer than 900, though 31.9% fewer than
	// 1,000: the last successful run is what counts.
	e.f.keepRows(func(id int) bool { return id <= 756 })
	if out := e.applyAt(rs, day(2), Options()); out.Report.Customers != 681 || out.Report.Guard.PreviousRun.ID != tenth.RunID {
		t.Fatalf("apply of 681 customers: %d evaluated, compared with %+v; want run %d", out.Report.Customers, out.Report.Guard.PreviousRun, tenth.RunID)
	}
	if got := e.runStatuses(); got["succeeded"] != 3 || got["blocked"] != 1 || len(got) != 2 {
		t.Fatalf("run statuses %v", got)
	}
}

// The store's LastSucceeded (jobs.PopulationReader) reports the rule
// set's latest succeeded run by start time, then id, with its customer
// count; runs of other rule sets and runs that did not succeed do not
// count, and a rule set's first run is not limited by another's.
func testStateLastSucceeded(t *testing.T, ns func(t *testing.T) StateBackend) {
	e := newStateEnv(t, ns, 1000)
	rs, other := RetailRuleSet(t), renamed(t, copyName)
	pr, ok := e.s.(jobs.PopulationReader)
	if !ok {
		t.Fatalf("%T does not implement jobs.PopulationReader", e.s)
	}
	last := func(ruleset string) (jobs.PreviousRun, bool) {
		t.Helper()
		p, ok, err := pr.LastSucceeded(context.Background(), ruleset)
		if err != nil {
			t.Fatalf("LastSucceeded(%s): %v", ruleset, err)
		}
		return p, ok
	}
	if p, ok := last(retailName); ok {
		t.Fatalf("LastSucceeded before any run: %+v", p)
	}
	at := func(hour int) jobs.Options {
		o := Options()
		o.Now = func() time.Time { return day(10).Add(time.Duration(hour) * time.Hour) }
		return o
	}
	a := e.applyAt(rs, day(0), at(2))
	e.f.keepRows(func(id int) bool { return id <= 600 })
	b := e.applyAt(other, day(0), at(2)) // a first run: not limited by retail's 1,000
	if p, ok := last(retailName); !ok || !samePrev(p, jobs.PreviousRun{ID: a.RunID, Customers: 1000}) {
		t.Fatalf("LastSucceeded(retail) = %+v, %v; want run %d of 1000 customers", p, ok, a.RunID)
	}
	if p, ok := last(copyName); !ok || !samePrev(p, jobs.PreviousRun{ID: b.RunID, Customers: 600}) {
		t.Fatalf("LastSucceeded(%s) = %+v, %v; want run %d of 600 customers", copyName, p, ok, b.RunID)
	}
	// A blocked run (600 of 1,000) does not count.
	if _, err := jobs.Apply(context.Background(), e.s, e.f, rs, at(3)); !errors.Is(err, jobs.ErrBlocked) {
		t.Fatalf("apply of 600 customers after 1,000: %v, want ErrBlocked", err)
	}
	if p, _ := last(retailName); p.ID != a.RunID {
		t.Fatalf("LastSucceeded after a blocked run = %+v, want run %d still", p, a.RunID)
	}
	// Of two runs started at the same time, the later id; a run started
	// earlier does not count over one started later.
	o := at(2)
	o.Guard.AllowLarge = true
	c := e.applyAt(rs, day(1), o)
	if p, _ := last(retailName); !samePrev(p, jobs.PreviousRun{ID: c.RunID, Customers: 600}) {
		t.Fatalf("LastSucceeded with two runs started at once = %+v, want run %d (the later id) of 600", p, c.RunID)
	}
	e.applyAt(rs, day(2), at(1))
	if p, _ := last(retailName); p.ID != c.RunID {
		t.Fatalf("LastSucceeded after a run started earlier = %+v, want run %d, started later", p, c.RunID)
	}
}

// blockedApply runs an apply that the guard must refuse with reason
// want, comparing with run prevID: it is recorded blocked with the
// reason and the number of customers it read.
func (e *stateEnv) blockedApply(rs *rules.RuleSet, at time.Time, o jobs.Options, want string, prevID, customers int64) *jobs.Outcome {
	e.t.Helper()
	o.AsOf = at
	out, err := jobs.Apply(context.Background(), e.s, e.f, rs, o)
	if !errors.Is(err, jobs.ErrBlocked) || !strings.Contains(err.Error(), want) {
		e.t.Fatalf("apply: %v\nwant ErrBlocked with %q", err, want)
	}
	if out == nil || out.Report == nil || !out.Report.Guard.Blocked || out.Report.Guard.PreviousRun == nil || out.Report.Guard.PreviousRun.ID != prevID {
		e.t.Fatalf("blocked apply: %+v; want its report, blocked, naming run %d", out, prevID)
	}
	r := e.runByID(out.RunID)
	if r.Status != "blocked" || r.Error == nil || !strings.Contains(*r.Error, want) || r.Customers != customers || r.Finished == nil {
		e.t.Fatalf("run record of the blocked apply: %+v; want blocked with %q and %d customers", r, want, customers)
	}
	return out
}

// samePlanVerdict requires a plan to show the refusal an apply met.
func (e *stateEnv) samePlanVerdict(rs *rules.RuleSet, at time.Time, o jobs.Options, want string, prevID int64) {
	e.t.Helper()
	p := e.planAt(rs, at, o)
	if g := p.Guard; !g.Blocked || !slices.Contains(g.Reasons, want) || g.PreviousRun == nil || g.PreviousRun.ID != prevID {
		e.t.Fatalf("plan's guard %+v; want it blocked with %q against run %d", g, want, prevID)
	}
}

// keepRows removes the facts rows whose id keep rejects (a truncated or
// partial load) and returns them, for restore.
func (m *memFacts) keepRows(keep func(id int) bool) []Customer {
	m.mu.Lock()
	defer m.mu.Unlock()
	var removed []Customer
	for id, c := range m.rows {
		if !keep(id) {
			removed = append(removed, c)
			delete(m.rows, id)
		}
	}
	return removed
}

// restore puts removed rows back.
func (m *memFacts) restore(rows []Customer) {
	for _, c := range rows {
		m.put(c)
	}
}

// samePrev compares the run and customer count of two previous runs; the
// source row counts are checked by their own case.
func samePrev(a, b jobs.PreviousRun) bool { return a.ID == b.ID && a.Customers == b.Customers }
