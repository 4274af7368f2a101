package gen

import (
	"fmt"
	"time"
)

// OrderColumns are the columns of a retail order: the transactions of
// examples/retail/retail_orders.yaml. order_id is the key the loaders
// index; customer_id is the customer's.
var OrderColumns = []Column{
	{Name: "order_id", Kind: KindID},
	{Name: "customer_id", Kind: KindInteger},
	{Name: "ordered_at", Kind: KindTime},
	{Name: "amount", Kind: KindNumber},
}

// Order is one order of a retail customer.
type Order struct {
	// ID numbers the orders from 1 in the order the generator makes them.
	ID       int64
	Customer int64
	At       time.Time
	// Amount is in CNY, to the cent.
	Amount float64
}

// OrderGenerator streams the orders of the retail customers a Config
// describes, customer by customer in ID order and each customer's in time
// order: the orders that Retail, with the same Config, sums into its
// facts (spend_12m and spend_prev_12m are the amounts of the orders in
// the 12 calendar months before the snapshot, and the 12 before those;
// orders_12m counts the first; first_order_at and last_order_at are the
// first and last order's day and time), and the orders before those
// windows too. It holds one customer's orders at a time. It is not safe
// for concurrent use.
type OrderGenerator struct {
	g    *Generator
	next int64 // the next customer
	buf  []Order
	i    int
	id   int64
}

// RetailOrders returns a generator of the orders of the retail customers
// cfg describes.
func RetailOrders(cfg Config) (*OrderGenerator, error) {
	g, err := Retail(cfg)
	if err != nil {
		return nil, fmt.Errorf("retail orders generator: %w", err)
	}
	return &OrderGenerator{g: g, next: 1}, nil
}

// Columns returns OrderColumns.
func (o *OrderGenerator) Columns() []Column { return OrderColumns }

// Len is -1: how many orders there are is only known once they are made.
func (o *OrderGenerator) Len() int64 { return -1 }

// SnapshotAt is when the facts of the same Config are taken; the orders
// are before it (to the second, as last_order_at is).
func (o *OrderGenerator) SnapshotAt() time.Time { return o.g.SnapshotAt() }

// Next returns the next order, or false when all have been produced.
func (o *OrderGenerator) Next() (Order, bool) {
	for o.i >= len(o.buf) {
		if o.next > o.g.n {
			return Order{}, false
		}
		o.buf, o.i = o.g.orders(o.next, o.g.arr.next(o.next), o.buf[:0]), 0
		o.next++
	}
	ord := o.buf[o.i]
	o.i++
	o.id++
	ord.ID = o.id
	return ord, true
}

// NextRow is Next as a row of OrderColumns.
func (o *OrderGenerator) NextRow(row []Value) bool {
	ord, ok := o.Next()
	if !ok {
		return false
	}
	row[0] = Value{Int: ord.ID}
	row[1] = Value{Int: ord.Customer}
	row[2] = Value{Time: ord.At}
	row[3] = Value{Num: ord.Amount}
	return true
}

// orders appends customer id's orders before the snapshot to out: the
// simulation whose sums are the customer's facts (Generator.customer).
func (g *Generator) orders(id int64, first float64, out []Order) []Order {
	g.simulate(id, first, func(t, value, noise float64) {
		out = append(out, Order{Customer: id, At: g.cal.time(t), Amount: g.amount(t, value, noise)})
	})
	return out
}
