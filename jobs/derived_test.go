package jobs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// derivedRules is a rule set deriving every transaction fact, in zone.
func derivedRules(t *testing.T, zone string) *rules.RuleSet {
	t.Helper()
	src := `ruleset: shop
timezone: ` + zone + `
transactions: {time: at, amount: total, quantity: qty, category: cat}
facts:
  channel: string
derived:
  spend_12m: sum(amount, last 365d)
  spend_prev: sum(amount, 365d..730d before)
  items: sum(quantity, last 30d)
  orders_12m: count(last 365d)
  books: 'count(category in ["books", "music"])'
  toys_max: 'max(amount, category = "toys")'
  low: min(amount, last 90d)
  avg_order: avg(amount)
  first_at: first()
  last_at: last(last 730d)
  gap: days_between_orders()
segmentations:
  - name: tier
    segments:
      - name: vip
        when: channel != "" && spend_12m > 0 && spend_prev >= 0 && items >= 0 && orders_12m >= 0 && books >= 0 && toys_max == nil && low == nil && avg_order == nil && first_at == nil && last_at == nil && gap == nil
      - name: other
        fallback: true
`
	rs, err := rules.Compile("shop.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// refTx is one transaction of the reference computation.
type refTx struct {
	key    string
	at     time.Time
	amount any // float64 or nil
	qty    any
	cat    any // string or nil
}

// reference computes a fact derived from transactions the obvious way,
// transaction by transaction, as docs/rules.md defines it.
func reference(d *rules.Derivation, txs []refTx, asOf time.Time) any {
	var n, vals int64
	var sum, lo, hi float64
	var first, last time.Time
	for _, t := range txs {
		if !d.Window.Contains(asOf, t.at) {
			continue
		}
		if d.Categories != nil {
			c, ok := t.cat.(string)
			if !ok || !strings.Contains(","+strings.Join(d.Categories, ",")+",", ","+c+",") {
				continue
			}
		}
		if n == 0 || t.at.Before(first) {
			first = t.at
		}
		if n == 0 || t.at.After(last) {
			last = t.at
		}
		n++
		v := t.amount
		if d.Column == rules.TxQuantity {
			v = t.qty
		}
		x, ok := v.(float64)
		if !ok {
			continue
		}
		if vals == 0 || x < lo {
			lo = x
		}
		if vals == 0 || x > hi {
			hi = x
		}
		vals++
		sum += x
	}
	switch d.Func {
	case "sum":
		return sum
	case "count":
		return int(n)
	case "first", "last", "days_between_orders":
		if n == 0 {
			return nil
		}
		if d.Func == "first" {
			return first.UTC()
		}
		if d.Func == "last" {
			return last.UTC()
		}
		if n < 2 {
			return nil
		}
		return last.Sub(first).Seconds() / 86400 / float64(n-1)
	}
	if vals == 0 {
		return nil
	}
	return map[string]float64{"min": lo, "max": hi, "avg": sum / float64(vals)}[d.Func]
}

// randomTransactions makes n transactions of keys k0..k(keys-1) around
// asOf, in random order: amounts in quarters (so that every sum is exact
// whatever the order of addition), some null, and times with offsets of
// several zones, some right on a window's edge.
func randomTransactions(r *rand.Rand, n, keys int, asOf time.Time) []refTx {
	zones := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("EST", -5*3600)}
	cats := []any{"books", "music", "toys", "food", nil}
	out := make([]refTx, n)
	for i := range out {
		at := asOf.Add(-time.Duration(r.Int64N(int64(800*24*time.Hour))) + 30*24*time.Hour).Truncate(time.Millisecond)
		if r.IntN(10) == 0 {
			at = asOf.Add(-time.Duration(r.IntN(3)) * 365 * 24 * time.Hour)
		}
		t := refTx{key: fmt.Sprintf("k%d", r.IntN(keys)), at: at.In(zones[r.IntN(len(zones))]), cat: cats[r.IntN(len(cats))]}
		if r.IntN(8) != 0 {
			t.amount = float64(r.IntN(40000)) / 4
		}
		if r.IntN(3) != 0 {
			t.qty = float64(r.IntN(10))
		}
		out[i] = t
	}
	return out
}

func txRows(txs []refTx) []engine.Customer {
	out := make([]engine.Customer, len(txs))
	for i, t := range txs {
		out[i] = cust(t.key, t.at.UTC(), t.amount, t.qty, t.cat)
	}
	return out
}

// snapshotFacts opens rs's snapshot on facts and streams every customer.
func snapshotFacts(t *testing.T, facts FactsSource, rs *rules.RuleSet, asOf time.Time) map[string]engine.Customer {
	t.Helper()
	snap, err := OpenSnapshot(context.Background(), NoState{}, facts, rs, At(asOf))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	out := map[string]engine.Customer{}
	err = snap.Stream(context.Background(), 7, func(b []engine.Customer) error {
		for _, c := range b {
			out[c.Key] = c
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The streaming pass gives every customer of the facts source the values
// the definitions give, and nothing to the keys without facts, whatever
// the transactions' order and the rule set's zone.
func TestDerivedStreamMatchesDefinitions(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"UTC", "America/New_York"} {
		t.Run(zone, func(t *testing.T) {
			t.Parallel()
			rs := derivedRules(t, zone)
			asOf := time.Date(2024, 7, 1, 4, 0, 0, 0, time.UTC)
			r := rand.New(rand.NewPCG(7, uint64(len(zone))))
			txs := randomTransactions(r, 3000, 60, asOf)
			var people []engine.Customer
			for i := 0; i < 70; i += 1 + i%3 { // k60..k69 have no transactions; some keys have no facts
				people = append(people, cust(fmt.Sprintf("k%d", i), "online"))
			}
			sortCustomers(people)
			facts := Sources{{Name: PrimarySource, Facts: &rowsFacts{rows: people, ordered: true}, Transactions: &rowsFacts{rows: txRows(txs)}}}
			got := snapshotFacts(t, facts, rs, asOf)
			if len(got) != len(people) {
				t.Fatalf("%d customers, want %d", len(got), len(people))
			}
			byKey := map[string][]refTx{}
			for _, tx := range txs {
				byKey[tx.key] = append(byKey[tx.key], tx)
			}
			for _, p := range people {
				c := got[p.Key]
				if len(c.FactErrors) > 0 {
					t.Errorf("%s: fact errors %v", p.Key, c.FactErrors)
				}
				if c.Facts[0] != "online" {
					t.Errorf("%s: channel = %v", p.Key, c.Facts[0])
				}
				for _, df := range rs.Derived() {
					want := reference(df.Field.Derived, byKey[p.Key], asOf)
					if g := c.Facts[df.Index]; !reflect.DeepEqual(g, want) {
						t.Errorf("%s: %s (%s) = %#v, want %#v", p.Key, df.Field.Name, df.Field.Derived.Source, g, want)
					}
				}
			}
		})
	}
}

func sortCustomers(cs []engine.Customer) {
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			if cs[j].Key < cs[i].Key {
				cs[i], cs[j] = cs[j], cs[i]
			}
		}
	}
}

// A customer without transactions gets 0 for sum and count and null for
// the rest; a bad transaction is its customer's error, on the first
// derived fact.
func TestDerivedEmptyAndBadValues(t *testing.T) {
	t.Parallel()
	rs := derivedRules(t, "UTC")
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	bad := cust("b", nil, 5.0, nil, nil)
	bad.FactErrors = []engine.FactError{{Fact: "at", Err: fmt.Errorf(`"n/a" is not a date (orders.csv:3)`)}}
	txs := []engine.Customer{cust("b", asOf, 10.0, nil, nil), bad}
	facts := Sources{{Name: PrimarySource, Facts: &rowsFacts{rows: []engine.Customer{cust("a", "x"), cust("b", "y")}, ordered: true}, Transactions: &rowsFacts{rows: txs}}}
	got := snapshotFacts(t, facts, rs, asOf)
	want := []any{"x", 0.0, 0.0, 0.0, 0, 0, nil, nil, nil, nil, nil, nil}
	if !reflect.DeepEqual(got["a"].Facts, want) || got["a"].FactErrors != nil {
		t.Errorf("a = %#v %v, want %#v", got["a"].Facts, got["a"].FactErrors, want)
	}
	b := got["b"]
	if b.Facts[1] != 10.0 || len(b.FactErrors) != 1 || b.FactErrors[0].Fact != "spend_12m" || !strings.Contains(b.FactErrors[0].Err.Error(), "orders.csv:3") {
		t.Errorf("b = %#v %v", b.Facts, b.FactErrors)
	}
}

// A rule set that derives facts needs a transactions source, and one
// that does not must not have one.
func TestDerivedNeedsTransactions(t *testing.T) {
	t.Parallel()
	rs := derivedRules(t, "UTC")
	people := &rowsFacts{rows: []engine.Customer{cust("a", "x")}, ordered: true}
	_, err := OpenSnapshot(context.Background(), NoState{}, Single(people), rs, At(time.Now()))
	if err == nil || !strings.Contains(err.Error(), "no transactions source is configured") {
		t.Errorf("without transactions: %v", err)
	}
	plain, _ := rs.WithoutDerived()
	_, err = OpenSnapshot(context.Background(), NoState{}, Sources{{Name: PrimarySource, Facts: people, Transactions: people}}, plain, At(time.Now()))
	if err == nil || !strings.Contains(err.Error(), "none of its facts is derived from transactions") {
		t.Errorf("with transactions it does not read: %v", err)
	}
	_, err = OpenSnapshot(context.Background(), NoState{}, Sources{{Name: PrimarySource, Facts: people, Transactions: people}}, rs)
	if err == nil || !strings.Contains(err.Error(), "needs jobs.At") {
		t.Errorf("without as-of: %v", err)
	}
}

// FindCustomer derives one customer's facts as the run does.
func TestDerivedFindCustomer(t *testing.T) {
	t.Parallel()
	rs := derivedRules(t, "UTC")
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	txs := []engine.Customer{cust("b", asOf.Add(-time.Hour), 10.0, 2.0, "books"), cust("a", asOf, 3.0, nil, nil), cust("b", asOf.Add(-24*time.Hour), 20.0, nil, "toys")}
	facts := Sources{{Name: PrimarySource, Facts: &rowsFacts{rows: []engine.Customer{cust("a", "x"), cust("b", "y")}, ordered: true}, Transactions: &rowsFacts{rows: txs}}}
	c, err := FindCustomer(context.Background(), NoState{}, facts, rs, "b", At(asOf))
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"y", 30.0, 0.0, 2.0, 2, 1, 20.0, 10.0, 15.0, asOf.Add(-24 * time.Hour), asOf.Add(-time.Hour), 23.0 / 24}
	if !reflect.DeepEqual(c.Facts, want) {
		t.Errorf("b = %#v\nwant %#v", c.Facts, want)
	}
}

// Transactions a source gives in key order are aggregated as they come;
// keys are matched as the primary source normalises its own.
func TestDerivedOrderedAndNormalised(t *testing.T) {
	t.Parallel()
	rs := derivedRules(t, "UTC")
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	ordered := []engine.Customer{cust("a", asOf, 1.0, nil, nil), cust("a", asOf.Add(-time.Hour), 2.0, nil, nil), cust("b", asOf, 4.0, nil, nil)}
	people := []engine.Customer{cust("a", "x"), cust("b", "y")}
	facts := Sources{{Name: PrimarySource, Facts: &rowsFacts{rows: people, ordered: true}, Transactions: &rowsFacts{rows: ordered, ordered: true}}}
	got := snapshotFacts(t, facts, rs, asOf)
	if got["a"].Facts[1] != 3.0 || got["b"].Facts[1] != 4.0 {
		t.Errorf("ordered: a %v, b %v", got["a"].Facts, got["b"].Facts)
	}
	padded := []engine.Customer{cust(" A ", asOf, 1.0, nil, nil), cust("b", asOf, 4.0, nil, nil), cust("a", asOf, 2.0, nil, nil)}
	facts = Sources{{Name: PrimarySource, Facts: &rowsFacts{rows: people, ordered: true}, Transactions: &rowsFacts{rows: padded, ordered: true},
		Key: KeyNormalization{Trim: true, Case: "lower"}}}
	got = snapshotFacts(t, facts, rs, asOf)
	if got["a"].Facts[1] != 3.0 || got["b"].Facts[1] != 4.0 {
		t.Errorf("normalised: a %v, b %v", got["a"].Facts, got["b"].Facts)
	}
}
