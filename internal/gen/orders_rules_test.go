package gen_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/jobs/memstore"
	"github.com/tierflow/tierflow/rules"
)

// writeRows writes rows as CSV to a new file of dir.
func writeRows(t testing.TB, dir, name string, rows gen.Rows) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := gen.WriteCSV(f, rows); err != nil {
		t.Fatal(err)
	}
	return path
}

// generatedProject writes the customers and orders cfg generates as CSV
// files, and returns the sources of the retail example from the orders
// table on them.
func generatedProject(t *testing.T, cfg gen.Config) jobs.Sources {
	t.Helper()
	customers, err := gen.Retail(cfg)
	if err != nil {
		t.Fatal(err)
	}
	orders, err := gen.RetailOrders(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	factsSrc, err := factsfile.Open(writeRows(t, dir, "customers.csv", customers), "")
	if err != nil {
		t.Fatal(err)
	}
	txSrc, err := factsfile.Open(writeRows(t, dir, "orders.csv", orders), "")
	if err != nil {
		t.Fatal(err)
	}
	return jobs.Sources{{Name: jobs.PrimarySource, Facts: factsSrc, Transactions: txSrc}}
}

// The facts the retail example derives from the generated orders are the
// generator's own facts, customer by customer. The as-of is chosen so
// that each of the two years before it has 365 days, as the windows of
// spend_12m and spend_prev_12m (365d, 365d..730d before) do. The rule
// set is the example's, predicted facts included: the BG/NBD fit on the
// generator's five years converges.
func TestRetailOrdersDerivedFacts(t *testing.T) {
	t.Parallel()
	cfg := gen.Config{Customers: 20000, Seed: 3, AsOf: time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC)}
	facts := generatedProject(t, cfg)
	src, err := os.ReadFile("../../examples/retail/retail_orders.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Compile("retail_orders.yaml", src, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := gen.Retail(cfg)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]gen.Customer{}
	for c, ok := want.Next(); ok; c, ok = want.Next() {
		byID[strconv.FormatInt(c.ID, 10)] = c
	}
	at := func(name string) int { _, i, _ := rs.Facts.Lookup(name); return i }
	spend, prev, count, last := at("spend_12m"), at("spend_prev_12m"), at("orders_12m"), at("last_order_at")
	snap, err := jobs.OpenSnapshot(context.Background(), jobs.NoState{}, facts, rs, jobs.At(cfg.SnapshotAt()))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	n := 0
	err = snap.Stream(context.Background(), 1000, func(b []engine.Customer) error {
		for _, c := range b {
			g := byID[c.Key]
			n++
			if math.Abs(c.Facts[spend].(float64)-g.Spend12m) > 0.01 || math.Abs(c.Facts[prev].(float64)-g.SpendPrev12m) > 0.01 || c.Facts[count] != g.Orders12m {
				t.Errorf("customer %s: derived %v, %v, %v; generated %v, %v, %v", c.Key, c.Facts[spend], c.Facts[prev], c.Facts[count], g.Spend12m, g.SpendPrev12m, g.Orders12m)
			}
			if lt, _ := c.Facts[last].(time.Time); !lt.Equal(g.LastOrderAt) {
				t.Errorf("customer %s: last order %v, generated %v", c.Key, c.Facts[last], g.LastOrderAt)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(byID) {
		t.Errorf("%d customers, want %d", n, len(byID))
	}
}

// The retail example from the orders table, run on 16 months of
// generated customers and orders: the BG/NBD fit converges, every
// customer who ordered is fitted, and the churn-risk call fires for a few
// VIPs.
func TestRetailOrdersExample(t *testing.T) {
	t.Parallel()
	cfg := gen.Config{Customers: 20000, Seed: 1, Years: 1, AsOf: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)}.Advance(4)
	facts := generatedProject(t, cfg)
	rs := loadRuleSet(t, "../../examples/retail/retail_orders.yaml")
	out, err := jobs.Plan(context.Background(), memstore.New(), facts, rs, jobs.Options{AsOf: cfg.SnapshotAt(), InitialActions: true})
	if err != nil {
		t.Fatal(err)
	}
	rep := out.Report
	if rep.Derived == nil || len(rep.Derived.Models) != 1 || !rep.Derived.Models[0].Converged || rep.Derived.Method != jobs.DerivedStream {
		t.Fatalf("derived report %+v", rep.Derived)
	}
	if rep.Errors.Customers != 0 {
		t.Errorf("%d customers with errors: %v", rep.Errors.Customers, rep.Errors.Examples)
	}
	calls := 0
	for _, a := range rep.Actions {
		if a.Name == "churn_risk_call" {
			calls = a.Count
		}
	}
	m := rep.Derived.Models[0]
	t.Logf("BG/NBD on %d customers: %v; churn-risk calls %d", m.Customers, m.Parameters, calls)
	if calls == 0 || calls > rep.Customers/20 || m.Customers < rep.Customers*9/10 {
		t.Errorf("%d churn-risk calls among %d customers, %d fitted", calls, rep.Customers, m.Customers)
	}
}
