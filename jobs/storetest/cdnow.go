package storetest

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs/kernel"
)

var stateCDNOWCases = []stateCase{
	{"CDNOW at monthly as-of dates: customers asleep by their marks are those whose evaluation changes nothing", testStateCDNOW},
}

// cdnowPath is the CDNOW transactions file (../shared beside the
// project), from the directory of a store's package.
const cdnowPath = "../../../shared/data/cdnow/CDNOW_master.txt"

// cdnowOrder is one CDNOW transaction.
type cdnowOrder struct {
	customer int
	on       time.Time // the date, midnight UTC
	amount   float64
}

// readCDNOW reads the CDNOW transactions. Without the file the test is
// skipped, except in CI ($CI set), where it fails.
func readCDNOW(t *testing.T) []cdnowOrder {
	t.Helper()
	f, err := os.Open(cdnowPath)
	if errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("CI") != "" {
			t.Fatalf("the CDNOW data is not at %s (CI runs every test)", cdnowPath)
		}
		t.Skipf("the CDNOW data is not at %s", cdnowPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []cdnowOrder
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for line := 2; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			t.Fatalf("%s:%d: want 4 fields, got %q", cdnowPath, line, sc.Text())
		}
		id, err1 := strconv.Atoi(fields[0])
		on, err2 := time.Parse("20060102", fields[1])
		amount, err3 := strconv.ParseFloat(fields[3], 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("%s:%d: %v", cdnowPath, line, err)
		}
		out = append(out, cdnowOrder{id, on, amount})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// cdnowFacts are the retail facts of the CDNOW customers who had ordered
// by at: spend and orders of the 365 days up to at, spend of the 365
// before, first and last order; the channel cycles with the id.
func cdnowFacts(orders []cdnowOrder, at time.Time) map[int]Customer {
	out := map[int]Customer{}
	channels := []string{"online", "store", "partner"}
	year, twoYears := at.AddDate(-1, 0, 0), at.AddDate(-2, 0, 0)
	for _, o := range orders {
		if o.on.After(at) {
			continue
		}
		c, ok := out[o.customer]
		if !ok {
			c = Customer{ID: o.customer, FirstOrder: o.on.Format(time.DateOnly), Channel: channels[o.customer%3]}
		}
		switch {
		case o.on.After(year):
			c.Spend += o.amount
			c.Orders++
		case o.on.After(twoYears):
			c.Prev += o.amount
		}
		if last := o.on.Format(time.RFC3339); last > c.LastOrder {
			c.LastOrder = last
		}
		out[o.customer] = c
	}
	return out
}

// The retail example (without coverage targets: retailWithoutCoverage)
// on the real CDNOW purchases (23,570 customers, 1997-98), applied on the
// first of every month from February 1997 to July 1998 with the facts as
// of that day, to two stores: one with every customer evaluated, one with
// jobs.Options.Incremental. Customers arrive, buy, fall silent and
// churn. After every apply no customer asleep by its marks was changed
// by its evaluation (applyAt fails on drift), both stores hold the same
// state, history and queue, and most customer-months after the first are
// asleep.
func testStateCDNOW(t *testing.T, ns func(t *testing.T) StateBackend) {
	orders := readCDNOW(t)
	full, incr := newStateEnv(t, ns, 0), newStateEnv(t, ns, 0)
	o, oi := nightOptions(), nightOptions()
	oi.Incremental = true
	rs := retailWithoutCoverage(t)
	var asleep, evaluate, waking, changed, skipped int
	for m := 0; m < 18; m++ {
		at := time.Date(1997, time.February+time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		for _, c := range cdnowFacts(orders, at) {
			full.f.put(c)
			incr.f.put(c)
		}
		rf, rinc := full.applyAt(rs, at, o).Report, incr.applyAt(rs, at, oi).Report
		if f, i := reportFigures(t, rf), reportFigures(t, rinc); f != i {
			t.Fatalf("%s: the incremental report\n%s\nwant the full run's\n%s", at.Format(time.DateOnly), i, f)
		}
		r, ri := rf.Incremental, rinc.Incremental
		if m%3 == 2 { // every third month, the last included: reading 23,570 states twice is most of the case's time
			sameStates(t, at.Format(time.DateOnly), full.states(rs), incr.states(rs))
		}
		if m == 0 {
			continue
		}
		asleep, evaluate, waking, changed = asleep+r.Asleep, evaluate+r.Evaluate, waking+r.Waking, changed+r.Changed
		skipped += ri.Skipped
	}
	// The queue only grows: compared once, at the end. (History is the
	// runs' moves, which the reports compared; testStateIncremental
	// compares it row by row.)
	if f, i := queueLines(full), queueLines(incr); f != i {
		t.Fatalf("after the last month the incremental store's queue differs from the full one's:\n%s\nwant\n%s", i, f)
	}
	t.Logf("customer-months after the first: %d asleep (%d skipped by the incremental runs), %d to evaluate (%d waking, %d changed)",
		asleep, skipped, evaluate, waking, changed)
	if asleep <= evaluate || skipped != asleep || waking == 0 || changed == 0 {
		t.Errorf("customer-months: %d asleep, %d skipped, %d to evaluate, %d waking, %d changed; want most asleep and skipped, some waking and changed",
			asleep, skipped, evaluate, waking, changed)
	}
}

// queueLines lists e's whole queue, a line per action without its ids,
// in idempotency-key order.
func queueLines(e *stateEnv) string {
	var lines []string
	for _, q := range e.queue(kernel.ActionFilter{}) {
		lines = append(lines, fmt.Sprintf("%s|%s|%s|%s|%d|%s|%s|%s", q.Idempotent, q.RuleSet, q.Action, q.Customer, q.Priority, q.Status, q.Payload, ts(q.DueAt)))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
