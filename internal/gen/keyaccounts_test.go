package gen_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/internal/pgtest"
)

func accounts(t testing.TB, cfg gen.Config) []gen.Account {
	t.Helper()
	g, err := gen.KeyAccounts(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]gen.Account, 0, g.Len())
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		out = append(out, a)
	}
	if int64(len(out)) != g.Len() {
		t.Fatalf("Len() is %d, Next gave %d accounts", g.Len(), len(out))
	}
	return out
}

func TestKeyAccountsDeterministic(t *testing.T) {
	t.Parallel()
	cfg := gen.Config{Customers: 3000, Seed: 42, AsOf: asOf}
	a, b := accounts(t, cfg), accounts(t, cfg)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same config, different account %d:\n%+v\n%+v", i+1, a[i], b[i])
		}
	}
	cfg.Seed++
	c := accounts(t, cfg)
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same > len(a)/100 {
		t.Errorf("seeds 42 and 43 gave %d identical accounts of %d", same, len(a))
	}
}

// A month later the same accounts have the same past: the last order,
// a manager's departure and the purchases of the year before are only
// ever added to, never rewritten.
func TestKeyAccountsAdvanceKeepsThePast(t *testing.T) {
	t.Parallel()
	cfg := gen.Config{Customers: 5000, Seed: 8, AsOf: asOf}
	before, after := accounts(t, cfg), accounts(t, cfg.Advance(12))
	nulls := map[string]int{}
	for i, b := range before {
		a := after[i]
		if a.ID != b.ID || a.CustomerSince != b.CustomerSince || a.Region != b.Region {
			t.Fatalf("account %d changed identity", b.ID)
		}
		// Twelve months on, last year's 12 months are the year before.
		if a.PurchasesPrev12m != b.Purchases12m {
			t.Fatalf("account %d: purchases_prev_12m a year later %v, purchases_12m before %v", b.ID, a.PurchasesPrev12m, b.Purchases12m)
		}
		if a.LastOrderAt.Before(b.LastOrderAt) || (a.LastOrderAt.Before(asOf) && !a.LastOrderAt.Equal(b.LastOrderAt)) {
			t.Fatalf("account %d: last order %s, a year later %s", b.ID, b.LastOrderAt, a.LastOrderAt)
		}
		if a.ManagerLeftAt.Before(b.ManagerLeftAt) {
			t.Fatalf("account %d: manager left %s, a year later %s", b.ID, b.ManagerLeftAt, a.ManagerLeftAt)
		}
		if b.CreditScore == 0 {
			nulls["credit_score"]++
		}
		if b.Satisfaction == 0 {
			nulls["satisfaction_score"]++
		}
		if b.SatisfactionPrev == 0 {
			nulls["satisfaction_prev"]++
		}
		if b.LastOrderAt.IsZero() {
			nulls["last_order_at"]++
		}
		if b.ManagerLeftAt.IsZero() {
			nulls["account_manager_left_at"]++
		}
		if b.OrderMonths12m < 0 || b.OrderMonths12m > 12 || (b.OrderMonths12m > 0) != (b.Revenue12m > 0) {
			t.Fatalf("account %d: %d order months, revenue %v", b.ID, b.OrderMonths12m, b.Revenue12m)
		}
	}
	for _, col := range gen.AccountColumns {
		if col.Nullable && (nulls[col.Name] == 0 || nulls[col.Name] == len(before)) {
			t.Errorf("%s: %d nulls of %d", col.Name, nulls[col.Name], len(before))
		}
	}
}

func TestKeyAccountsCSVAndPostgres(t *testing.T) {
	t.Parallel()
	cfg := gen.Config{Customers: 2000, Seed: 4, AsOf: asOf}
	g, _ := gen.KeyAccounts(cfg)
	var buf bytes.Buffer
	if _, err := gen.WriteCSV(&buf, g); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(records) != 2001 || len(records[0]) != len(gen.AccountColumns) {
		t.Fatalf("%d records, %v", len(records), err)
	}
	if !strings.HasPrefix(strings.Join(records[0], ","), "customer_id,customer_since,order_months_12m,revenue_12m") {
		t.Errorf("header: %v", records[0])
	}

	db := pgtest.DB(t)
	g, _ = gen.KeyAccounts(cfg)
	if n, err := gen.LoadPostgres(context.Background(), db, "account_facts", g); err != nil || n != 2000 {
		t.Fatalf("LoadPostgres: %d, %v", n, err)
	}
	var unrated, neverSurveyed int
	var revenue float64
	err = db.QueryRow(`SELECT count(*) FILTER (WHERE credit_score IS NULL), count(*) FILTER (WHERE satisfaction_score IS NULL), sum(revenue_12m)::float8 FROM account_facts`).
		Scan(&unrated, &neverSurveyed, &revenue)
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for _, a := range accounts(t, cfg) {
		want += a.Revenue12m
	}
	if unrated == 0 || neverSurveyed == 0 || revenue != want {
		t.Errorf("loaded: %d unrated, %d never surveyed, revenue %v (want %v)", unrated, neverSurveyed, revenue, want)
	}
}
