package gen_test

import (
	"fmt"
	"os"
	"time"

	"github.com/tierflow/tierflow/internal/gen"
)

// Stream customers one at a time. IDs follow the first order, so the
// last customers are the newest.
func ExampleRetail() {
	g, err := gen.Retail(gen.Config{Customers: 1000, Seed: 42, AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	for c, ok := g.Next(); ok; c, ok = g.Next() {
		if c.ID > 996 {
			fmt.Printf("%d: spend_12m %.2f, orders_12m %d, first order %s, %s, %s\n", c.ID, c.Spend12m, c.Orders12m, c.FirstOrderAt.Format(time.DateOnly), c.Channel, c.Region)
		}
	}
	// Output:
	// 997: spend_12m 306.79, orders_12m 1, first order 2024-06-26, online, central
	// 998: spend_12m 3993.28, orders_12m 1, first order 2024-06-27, store, west
	// 999: spend_12m 357.08, orders_12m 1, first order 2024-06-29, online, east
	// 1000: spend_12m 508.01, orders_12m 1, first order 2024-06-30, partner, south
}

// Write a population as CSV; the same config always writes the same
// file.
func ExampleWriteCSV() {
	g, err := gen.Retail(gen.Config{Customers: 1000, Seed: 42, AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	if _, err := gen.WriteCSV(os.Stdout, &first{g, 3}); err != nil {
		panic(err)
	}
	// Output:
	// customer_id,spend_12m,spend_prev_12m,orders_12m,first_order_at,last_order_at,channel,region
	// 1,0,0,0,2019-07-02,2020-02-01T07:58:04Z,online,north
	// 2,0,0,0,2019-07-04,2019-11-23T15:35:43Z,online,east
	// 3,0,807.84,0,2019-07-07,2023-06-11T08:11:24Z,partner,south
}

// The same population a month later: the same customers, with the
// orders they placed in between, and the customers who arrived meanwhile.
func ExampleConfig_Advance() {
	cfg := gen.Config{Customers: 1000, Seed: 42, AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)}
	for _, c := range []gen.Config{cfg, cfg.Advance(1)} {
		g, err := gen.Retail(c)
		if err != nil {
			panic(err)
		}
		fmt.Printf("as of %s: %d customers\n", g.SnapshotAt().Format(time.DateOnly), g.Len())
	}
	// Output:
	// as of 2024-07-01: 1000 customers
	// as of 2024-08-01: 1021 customers
}

// first passes on the first n rows of a stream.
type first struct {
	gen.Rows
	n int64
}

func (f *first) Len() int64 { return min(f.n, f.Rows.Len()) }

func (f *first) NextRow(row []gen.Value) bool {
	if f.n == 0 {
		return false
	}
	f.n--
	return f.Rows.NextRow(row)
}
