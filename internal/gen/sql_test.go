package gen_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/internal/pgtest"
)

// loadedCustomers reads a loaded table back, in ID order.
func loadedCustomers(t *testing.T, db *sql.DB, table string) []gen.Customer {
	t.Helper()
	rows, err := db.Query(`SELECT customer_id, spend_12m::float8, spend_prev_12m::float8, orders_12m,
		first_order_at::text, last_order_at, channel, region FROM ` + table + ` ORDER BY customer_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []gen.Customer
	for rows.Next() {
		var c gen.Customer
		var first string
		var last sql.NullTime
		if err := rows.Scan(&c.ID, &c.Spend12m, &c.SpendPrev12m, &c.Orders12m, &first, &last, &c.Channel, &c.Region); err != nil {
			t.Fatal(err)
		}
		var err error
		if c.FirstOrderAt, err = time.Parse(time.DateOnly, first); err != nil {
			t.Fatal(err)
		}
		if last.Valid {
			c.LastOrderAt = last.Time.UTC()
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameCustomers(t *testing.T, got, want []gen.Customer) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i+1, got[i], want[i])
		}
	}
}

func columnTypes(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	var types string
	err := db.QueryRow(`SELECT string_agg(column_name || ' ' || data_type || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END, ', ' ORDER BY ordinal_position)
		FROM information_schema.columns WHERE table_name = $1`, table).Scan(&types)
	if err != nil {
		t.Fatal(err)
	}
	return types
}

const wantPGColumns = "customer_id bigint not null, spend_12m numeric not null, spend_prev_12m numeric not null, orders_12m integer not null, " +
	"first_order_at date not null, last_order_at timestamp with time zone, channel text not null, region text not null"

func TestLoadPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.DB(t)
	if _, err := db.Exec(`SET TIME ZONE 'Asia/Shanghai'`); err != nil {
		t.Fatal(err)
	}
	cfg := gen.Config{Customers: 5000, Seed: 11, AsOf: asOf}
	g, _ := gen.Retail(cfg)
	n, err := gen.LoadPostgres(ctx, db, "customer_facts", g)
	if err != nil || n != 5000 {
		t.Fatalf("LoadPostgres: %d rows, %v", n, err)
	}
	if got := columnTypes(t, db, "customer_facts"); got != wantPGColumns {
		t.Errorf("columns:\n got %s\nwant %s", got, wantPGColumns)
	}
	sameCustomers(t, loadedCustomers(t, db, "customer_facts"), retail(t, cfg))

	// Loading again, a month on, replaces the table it made.
	g, _ = gen.Retail(cfg.Advance(1))
	if n, err = gen.LoadPostgres(ctx, db, "customer_facts", g); err != nil || n != g.Len() {
		t.Fatalf("load again: %d rows, %v", n, err)
	}
	sameCustomers(t, loadedCustomers(t, db, "customer_facts"), retail(t, cfg.Advance(1)))

	// A schema-qualified name works; a table it did not make is left alone.
	if _, err := db.Exec(`CREATE SCHEMA analytics; CREATE TABLE analytics.real_facts (id int); INSERT INTO analytics.real_facts VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	g, _ = gen.Retail(gen.Config{Customers: 100, Seed: 1, AsOf: asOf})
	if _, err := gen.LoadPostgres(ctx, db, "analytics.demo_facts", g); err != nil {
		t.Fatal(err)
	}
	_, err = gen.LoadPostgres(ctx, db, "analytics.real_facts", g)
	if err == nil || !strings.Contains(err.Error(), "not created by tierflow gen") {
		t.Errorf("loading over a table of real data: %v", err)
	}
	var kept int
	if err := db.QueryRow(`SELECT count(*) FROM analytics.real_facts`).Scan(&kept); err != nil || kept != 1 {
		t.Errorf("real_facts has %d rows (%v) after a refused load", kept, err)
	}
	for _, bad := range []string{"", "a.b.c", "facts; DROP TABLE x", `"quoted"`, "1abc"} {
		if _, err := gen.LoadPostgres(ctx, db, bad, g); err == nil {
			t.Errorf("table name %q accepted", bad)
		}
	}
}

// LoadSQL with the postgres dialect runs the same batched INSERTs it runs
// on SQLite, with $n placeholders.
func TestLoadSQLPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.DB(t)
	cfg := gen.Config{Customers: 1234, Seed: 12, AsOf: asOf} // not a multiple of the batch
	g, _ := gen.Retail(cfg)
	n, err := gen.LoadSQL(ctx, db, gen.DialectPostgres, "facts", g)
	if err != nil || n != 1234 {
		t.Fatalf("LoadSQL: %d rows, %v", n, err)
	}
	if got := columnTypes(t, db, "facts"); got != wantPGColumns {
		t.Errorf("columns:\n got %s\nwant %s", got, wantPGColumns)
	}
	sameCustomers(t, loadedCustomers(t, db, "facts"), retail(t, cfg))
	if _, err := gen.LoadSQL(ctx, db, "oracle", "facts", g); err == nil || !strings.Contains(err.Error(), `dialect "oracle"`) {
		t.Errorf("unknown dialect: %v", err)
	}
}
