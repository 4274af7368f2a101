package postgres_test

import (
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/tierflow/tierflow/internal/gen"
)

// bgnbdOrders are the orders of n customers who buy as BG/NBD says, with
// the paper's CDNOW parameters (weekly r = 0.243, alpha = 4.414, a =
// 0.793, b = 2.426): a first purchase in the quarter from start, then,
// while alive, purchases at a rate drawn for each customer, each followed
// by dropping out with a probability drawn for each customer, until end.
// It is a gen.Rows of gen.OrderColumns, customer by customer.
type bgnbdOrders struct {
	n, next, id int64
	start, end  time.Time
	r           *rand.Rand
	rate        distuv.Gamma
	beta        distuv.Beta
	buf         []time.Time
	i           int
}

func newBGNBDOrders(n int64, start, end time.Time) *bgnbdOrders {
	src := rand.NewPCG(2005, 11)
	o := &bgnbdOrders{n: n, next: 1, start: start, end: end, r: rand.New(src)}
	o.rate = distuv.Gamma{Alpha: 0.243, Beta: 4.414, Src: src}
	o.beta = distuv.Beta{Alpha: 0.793, Beta: 2.426, Src: src}
	return o
}

func (o *bgnbdOrders) Columns() []gen.Column { return gen.OrderColumns }
func (o *bgnbdOrders) Len() int64            { return -1 }

func (o *bgnbdOrders) NextRow(row []gen.Value) bool {
	for o.i >= len(o.buf) {
		if o.next > o.n {
			return false
		}
		o.customer()
		o.next++
	}
	o.id++
	row[0] = gen.Value{Int: o.id}
	row[1] = gen.Value{Int: o.next - 1}
	row[2] = gen.Value{Time: o.buf[o.i]}
	row[3] = gen.Value{Num: float64(1+o.r.IntN(200)) / 4}
	o.i++
	return true
}

// customer simulates the next customer's purchases into buf.
func (o *bgnbdOrders) customer() {
	const week = 7 * 24 * time.Hour
	o.buf, o.i = o.buf[:0], 0
	t := o.start.Add(time.Duration(o.r.Float64() * float64(13*week))).Truncate(24 * time.Hour)
	lambda, p := o.rate.Rand(), o.beta.Rand()
	for !t.After(o.end) {
		o.buf = append(o.buf, t)
		if o.r.Float64() < p {
			return
		}
		gap := o.r.ExpFloat64() / lambda * float64(week)
		if gap > float64(o.end.Sub(t)) {
			return
		}
		t = t.Add(time.Duration(gap)).Truncate(24 * time.Hour)
	}
}

// bgnbdCustomers are the customers of bgnbdOrders: customer_id and
// channel.
type bgnbdCustomers struct{ n, next int64 }

func (c *bgnbdCustomers) Columns() []gen.Column {
	return []gen.Column{{Name: "customer_id", Kind: gen.KindID}, {Name: "channel", Kind: gen.KindText}}
}
func (c *bgnbdCustomers) Len() int64 { return c.n }

func (c *bgnbdCustomers) NextRow(row []gen.Value) bool {
	if c.next >= c.n {
		return false
	}
	c.next++
	row[0], row[1] = gen.Value{Int: c.next}, gen.Value{Text: "online"}
	return true
}
