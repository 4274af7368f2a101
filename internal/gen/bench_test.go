package gen_test

import (
	"context"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/internal/pgtest"
)

// BenchmarkRetail generates a million retail customers per op; rows/s is
// the generator's speed alone, without writing anything.
func BenchmarkRetail(b *testing.B) {
	const n = 1_000_000
	cfg := gen.Config{Customers: n, Seed: 42, AsOf: asOf}
	b.ReportAllocs()
	for b.Loop() {
		g, err := gen.Retail(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, ok := g.Next(); ok; _, ok = g.Next() {
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRetailCSV generates a million customers and writes them as
// CSV to io.Discard.
func BenchmarkRetailCSV(b *testing.B) {
	benchmarkWrite(b, gen.WriteCSV)
}

// BenchmarkRetailJSONL is BenchmarkRetailCSV for JSON lines.
func BenchmarkRetailJSONL(b *testing.B) {
	benchmarkWrite(b, gen.WriteJSONL)
}

func benchmarkWrite(b *testing.B, write func(io.Writer, gen.Rows) (int64, error)) {
	const n = 1_000_000
	cfg := gen.Config{Customers: n, Seed: 42, AsOf: asOf}
	b.ReportAllocs()
	for b.Loop() {
		g, err := gen.Retail(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := write(io.Discard, g); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkKeyAccounts generates 100,000 B2B accounts per op.
func BenchmarkKeyAccounts(b *testing.B) {
	const n = 100_000
	cfg := gen.Config{Customers: n, Seed: 42, AsOf: asOf}
	b.ReportAllocs()
	for b.Loop() {
		g, err := gen.KeyAccounts(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, ok := g.Next(); ok; _, ok = g.Next() {
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkLoadPostgres loads retail customers into PostgreSQL with
// LoadPostgres (COPY), 200,000 per op unless TIERFLOW_BENCH_CUSTOMERS
// says otherwise.
func BenchmarkLoadPostgres(b *testing.B) {
	n := 200_000
	if v := os.Getenv("TIERFLOW_BENCH_CUSTOMERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("TIERFLOW_BENCH_CUSTOMERS=%q: want a number of customers", v)
		}
	}
	db := pgtest.DB(b)
	cfg := gen.Config{Customers: n, Seed: 42, AsOf: asOf}
	for b.Loop() {
		g, err := gen.Retail(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := gen.LoadPostgres(context.Background(), db, "customer_facts", g); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
