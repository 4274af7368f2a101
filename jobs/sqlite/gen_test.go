package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// The facts `tierflow gen` loads into a SQLite file (DATE and TIMESTAMP
// columns, dates and times as text) pass CheckSource and run month after
// month: customers move, actions are queued, dates are read as UTC.
func TestGeneratedFacts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "demo.db"), map[string]string{"retail": "customer_facts"})
	if _, err := s.Migrate(ctx, false); err != nil {
		t.Fatal(err)
	}
	rs := storetest.RetailRuleSet(t)
	cfg := gen.Config{Customers: 3000, Seed: 7, AsOf: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	load := func(cfg gen.Config) time.Time {
		t.Helper()
		g, err := gen.Retail(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gen.LoadSQL(ctx, s.DB().DB, gen.DialectSQLite, "customer_facts", g); err != nil {
			t.Fatal(err)
		}
		return g.SnapshotAt()
	}
	at := load(cfg)
	if problems, err := s.CheckSource(ctx, rs); err != nil || len(problems) != 0 {
		t.Fatalf("CheckSource of generated facts: %q, %v", problems, err)
	}
	c, err := s.Customer(ctx, rs, "1", jobs.At(at))
	if err != nil {
		t.Fatal(err)
	}
	first, ok := c.Facts[3].(time.Time)
	if !ok || first.Location() != time.UTC || !first.Equal(first.Truncate(24*time.Hour)) {
		t.Fatalf("customer 1's first order %v: want a date, as UTC midnight", c.Facts[3])
	}
	o := storetest.Options()
	o.AsOf = at
	if out, err := jobs.Apply(ctx, s, s.facts(), rs, o); err != nil || out.Report.Customers < 3000 || out.Report.Errors.Customers != 0 {
		t.Fatalf("first apply: %+v, %v", out, err)
	}
	var moved, queued int
	for month := 1; month <= 3; month++ {
		o.AsOf = load(cfg.Advance(month))
		out, err := jobs.Apply(ctx, s, s.facts(), rs, o)
		if err != nil {
			t.Fatalf("month %d: %v", month, err)
		}
		moved += out.Report.Changed
		queued += out.Report.ActionsTotal
	}
	if moved == 0 || queued == 0 {
		t.Fatalf("three months of generated facts moved %d customers and queued %d actions; want both", moved, queued)
	}
}
