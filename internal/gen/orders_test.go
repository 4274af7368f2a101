package gen_test

import (
	"math"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/gen"
)

// The orders the generator makes are the ones Retail sums into its facts,
// customer by customer, and a later snapshot replays the same ones.
func TestOrdersSumToFacts(t *testing.T) {
	t.Parallel()
	cfg := gen.Config{Customers: 3000, Seed: 11, AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)}
	for _, months := range []int{0, 3} {
		c := cfg.Advance(months)
		facts, err := gen.Retail(c)
		if err != nil {
			t.Fatal(err)
		}
		orders, err := gen.RetailOrders(c)
		if err != nil {
			t.Fatal(err)
		}
		snap := c.SnapshotAt()
		w12, w24 := snap.AddDate(-1, 0, 0), snap.AddDate(-2, 0, 0)
		ord, more := orders.Next()
		var n, checked int
		var prevID int64
		for {
			cust, ok := facts.Next()
			if !ok {
				break
			}
			var spend, prev float64
			var count int
			var first, last time.Time
			for more && ord.Customer == cust.ID {
				if ord.ID != prevID+1 || !ord.At.Before(snap.Add(time.Second)) {
					t.Fatalf("order %+v after %d, snapshot %s", ord, prevID, snap)
				}
				prevID = ord.ID
				if first.IsZero() {
					first = ord.At
				}
				if ord.At.Before(last) {
					t.Fatalf("customer %d: order at %s after one at %s", cust.ID, ord.At, last)
				}
				last = ord.At
				switch {
				case !ord.At.Before(w12):
					spend += ord.Amount
					count++
				case !ord.At.Before(w24):
					prev += ord.Amount
				}
				n++
				ord, more = orders.Next()
			}
			checked++
			if count != cust.Orders12m || math.Abs(spend-cust.Spend12m) > 0.005 || math.Abs(prev-cust.SpendPrev12m) > 0.005 {
				t.Errorf("months %d, customer %d: orders give %v, %d, %v; facts %v, %d, %v", months, cust.ID, spend, count, prev, cust.Spend12m, cust.Orders12m, cust.SpendPrev12m)
			}
			if !last.Equal(cust.LastOrderAt) || (!first.IsZero() && !first.Truncate(24*time.Hour).Equal(cust.FirstOrderAt)) {
				t.Errorf("customer %d: orders from %s to %s; facts first %s, last %s", cust.ID, first, last, cust.FirstOrderAt, cust.LastOrderAt)
			}
		}
		if more {
			t.Errorf("orders of customer %d after the last customer", ord.Customer)
		}
		if checked != int(facts.Len()) || n < 10*checked {
			t.Errorf("%d customers, %d orders", checked, n)
		}
		t.Logf("months %d: %d customers, %d orders", months, checked, n)
	}
}
