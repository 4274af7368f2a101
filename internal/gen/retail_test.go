package gen_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/gen"
)

func retail(t testing.TB, cfg gen.Config) []gen.Customer {
	t.Helper()
	g, err := gen.Retail(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]gen.Customer, 0, g.Len())
	for c, ok := g.Next(); ok; c, ok = g.Next() {
		out = append(out, c)
	}
	if int64(len(out)) != g.Len() {
		t.Fatalf("Len() is %d, Next gave %d customers", g.Len(), len(out))
	}
	return out
}

func TestRetailDeterministic(t *testing.T) {
	t.Parallel()
	cfg := gen.Config{Customers: 5000, Seed: 42, AsOf: asOf}
	a, b := retail(t, cfg), retail(t, cfg)
	if len(a) != 5000 {
		t.Fatalf("%d customers, want 5000", len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same config, different customer %d:\n%+v\n%+v", i+1, a[i], b[i])
		}
	}

	// Another seed, other customers.
	cfg.Seed = 43
	c := retail(t, cfg)
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same > len(a)/100 {
		t.Errorf("seeds 42 and 43 gave %d identical customers of %d", same, len(a))
	}
}

// Facts are what they say: IDs run from 1 in order of first order,
// every first order is before the snapshot, every customer who ordered
// has a last order between the first and the snapshot, and the windowed
// facts agree with each other.
func TestRetailFactsConsistent(t *testing.T) {
	t.Parallel()
	cfg := gen.Config{Customers: 20000, Seed: 3, AsOf: asOf}
	var prev time.Time
	for i, c := range retail(t, cfg) {
		if c.ID != int64(i+1) {
			t.Fatalf("customer %d has ID %d", i+1, c.ID)
		}
		if c.FirstOrderAt.Before(prev) {
			t.Errorf("customer %d: first order %s before customer %d's %s", c.ID, c.FirstOrderAt, c.ID-1, prev)
		}
		prev = c.FirstOrderAt
		if !c.FirstOrderAt.Before(asOf) || c.FirstOrderAt.Before(asOf.AddDate(-gen.DefaultYears, 0, -1)) {
			t.Errorf("customer %d: first order %s is not in the %d years before %s", c.ID, c.FirstOrderAt, gen.DefaultYears, asOf)
		}
		if c.FirstOrderAt.Hour() != 0 || c.FirstOrderAt.Location() != time.UTC {
			t.Errorf("customer %d: first_order_at %s is not a date", c.ID, c.FirstOrderAt)
		}
		if c.LastOrderAt.IsZero() {
			if c.Spend12m != 0 || c.SpendPrev12m != 0 || c.Orders12m != 0 {
				t.Errorf("customer %d never ordered but has spend: %+v", c.ID, c)
			}
			continue
		}
		if c.LastOrderAt.Before(c.FirstOrderAt) || !c.LastOrderAt.Before(asOf) {
			t.Errorf("customer %d: last order %s not between first order %s and %s", c.ID, c.LastOrderAt, c.FirstOrderAt, asOf)
		}
		recent := !c.LastOrderAt.Before(asOf.AddDate(-1, 0, 0))
		if recent != (c.Orders12m > 0) || (c.Orders12m > 0) != (c.Spend12m > 0) {
			t.Errorf("customer %d: last order %s, but %d orders and spend %v in the last 12 months", c.ID, c.LastOrderAt, c.Orders12m, c.Spend12m)
		}
		if c.Spend12m < 0 || c.SpendPrev12m < 0 || c.Spend12m != float64(int64(c.Spend12m*100+0.5))/100 {
			t.Errorf("customer %d: spend %v / %v is not money", c.ID, c.Spend12m, c.SpendPrev12m)
		}
		if !strings.Contains("online store partner", c.Channel) || !strings.Contains("north south east west central", c.Region) || c.Channel == "" || c.Region == "" {
			t.Errorf("customer %d: channel %q, region %q", c.ID, c.Channel, c.Region)
		}
	}
}

// Advancing replays the same history: the same customers (plus those
// who arrived in between), whose past orders have not changed. A last
// order before the earlier snapshot is the same in both; one after it
// is new.
func TestRetailAdvanceKeepsThePast(t *testing.T) {
	t.Parallel()
	cfg := gen.Config{Customers: 20000, Seed: 9, AsOf: asOf}
	before, after := retail(t, cfg), retail(t, cfg.Advance(1))
	if len(after) <= len(before) || len(after) > len(before)*11/10 {
		t.Fatalf("a month later: %d customers, was %d", len(after), len(before))
	}
	later := cfg.Advance(1).SnapshotAt()
	if !later.Equal(asOf.AddDate(0, 1, 0)) {
		t.Fatalf("Advance(1).SnapshotAt() = %s", later)
	}
	ordered, stopped := 0, 0
	for i, b := range before {
		a := after[i]
		if a.ID != b.ID || a.FirstOrderAt != b.FirstOrderAt || a.Channel != b.Channel || a.Region != b.Region {
			t.Fatalf("customer %d changed identity:\n%+v\n%+v", b.ID, b, a)
		}
		switch {
		case a.LastOrderAt.Equal(b.LastOrderAt):
			if b.Orders12m > 0 && a.Orders12m == 0 {
				stopped++
			}
		case a.LastOrderAt.Before(asOf) || b.LastOrderAt.After(a.LastOrderAt):
			t.Fatalf("customer %d: last order was %s, a month later %s", b.ID, b.LastOrderAt, a.LastOrderAt)
		default:
			ordered++
		}
	}
	for _, a := range after[len(before):] {
		if a.FirstOrderAt.Before(asOf.AddDate(0, 0, -1)) || !a.FirstOrderAt.Before(later) {
			t.Errorf("newcomer %d: first order %s, not between %s and %s", a.ID, a.FirstOrderAt, asOf, later)
		}
	}
	t.Logf("in a month: %d of %d ordered, %d stopped (no order in 12 months), %d newcomers", ordered, len(before), stopped, len(after)-len(before))
	if ordered < len(before)/10 || stopped == 0 {
		t.Errorf("in a month: %d of %d customers ordered and %d stopped", ordered, len(before), stopped)
	}

	// Two one-month steps are one two-month step.
	two, twice := retail(t, cfg.Advance(2)), retail(t, cfg.Advance(1).Advance(1))
	if len(two) != len(twice) {
		t.Fatalf("Advance(2): %d customers; Advance(1).Advance(1): %d", len(two), len(twice))
	}
	for i := range two {
		if two[i] != twice[i] {
			t.Fatalf("customer %d differs", i+1)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  gen.Config
		want string
	}{
		{"no customers", gen.Config{AsOf: asOf}, "customers: 0"},
		{"too many", gen.Config{Customers: gen.MaxCustomers + 1, AsOf: asOf}, "customers:"},
		{"no as-of", gen.Config{Customers: 10}, "as-of: required"},
		{"negative months", gen.Config{Customers: 10, AsOf: asOf, Months: -1}, "months: -1"},
		{"years", gen.Config{Customers: 10, AsOf: asOf, Years: 31}, "years: 31"},
	} {
		_, err := gen.Retail(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
