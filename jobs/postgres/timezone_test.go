package postgres

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/pgtest"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/jobs/storetest"
)

// On a database whose sessions default to another time zone than UTC,
// the times tierflow reads back (history here) are still UTC: a run as
// of 2024-07-01 is not shown as the evening of 2024-06-30.
func TestTimesReadBackInUTC(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	admin, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var name string
	if err := admin.QueryRowContext(ctx, `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(ctx, `ALTER DATABASE `+kernel.QuoteIdent(name)+` SET timezone = 'America/New_York'`); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx, false); err != nil {
		t.Fatal(err)
	}
	mustExecDB(t, s.db, textFactsDDL)
	mustExecDB(t, s.db, `INSERT INTO customer_facts VALUES ('1', 500, 100, 2, '2024-01-05', '2024-06-20', 'online')`)
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	if _, err := jobs.Apply(ctx, s, jobs.FactsByRuleSet{"retail": s.Source("customer_facts")}, storetest.RetailRuleSet(t), jobs.Options{AsOf: asOf, Guard: jobs.DefaultGuard}); err != nil {
		t.Fatal(err)
	}
	moves, err := s.History(ctx, "retail", "1")
	if err != nil || len(moves) == 0 {
		t.Fatalf("history: %v, %d moves", err, len(moves))
	}
	for _, m := range moves {
		if _, off := m.AsOf.Zone(); off != 0 || !m.AsOf.Equal(asOf) || m.AsOf.Format(time.DateOnly) != "2024-07-01" {
			t.Errorf("a move as of %v reads back as %v", asOf, m.AsOf)
		}
	}
}

// The connection string gets timezone=UTC, in the form it is written
// in, unless it sets a time zone itself.
func TestInUTC(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://app@db/crm":                      "postgres://app@db/crm?timezone=UTC",
		"postgresql://app@db/crm?sslmode=disable":    "postgresql://app@db/crm?sslmode=disable&timezone=UTC",
		"host=db dbname=crm":                         "host=db dbname=crm timezone=UTC",
		"postgres://db/crm?TimeZone=Asia%2FShanghai": "postgres://db/crm?TimeZone=Asia%2FShanghai",
		"host=db timezone=Asia/Shanghai":             "host=db timezone=Asia/Shanghai",
	} {
		if got := inUTC(dsn); got != want {
			t.Errorf("inUTC(%q) = %q, want %q", dsn, got, want)
		}
	}
}
