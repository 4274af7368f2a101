package storetest

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
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

// The retail example on the real CDNOW purchases (23,570 customers,
// 1997-98), applied on the first of every month from February 1997 to
// July 1998 with the facts as of that day: customers arrive, buy, fall
// silent and churn. After every apply no customer asleep by its marks was
// changed by its evaluation (applyAt fails on drift), and most
// customer-months after the first are asleep.
func testStateCDNOW(t *testing.T, ns func(t *testing.T) StateBackend) {
	orders := readCDNOW(t)
	e := newStateEnv(t, ns, 0)
	o := nightOptions()
	rs := RetailRuleSet(t)
	var asleep, evaluate, waking, changed int
	for m := 0; m < 18; m++ {
		at := time.Date(1997, time.February+time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		for _, c := range cdnowFacts(orders, at) {
			e.f.put(c)
		}
		r := e.applyAt(rs, at, o).Report.Incremental
		if m == 0 || r == nil {
			continue
		}
		asleep, evaluate, waking, changed = asleep+r.Asleep, evaluate+r.Evaluate, waking+r.Waking, changed+r.Changed
	}
	t.Logf("customer-months after the first: %d asleep, %d to evaluate (%d waking, %d changed)", asleep, evaluate, waking, changed)
	if asleep == 0 || waking == 0 || changed == 0 {
		t.Errorf("customer-months: %d asleep, %d waking, %d changed; want some of each", asleep, waking, changed)
	}
}
