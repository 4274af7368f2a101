package gen

import (
	"fmt"
	"math"
	"time"
)

// Customer holds one retail customer's facts: what
// examples/retail/retail.yaml reads, and the customer's region.
type Customer struct {
	ID int64
	// Spend12m is the spend over the 12 months before the snapshot;
	// SpendPrev12m over the 12 months before that.
	Spend12m     float64
	SpendPrev12m float64
	// Orders12m counts the orders in the last 12 months.
	Orders12m int
	// FirstOrderAt is the date (UTC midnight) of the customer's first
	// order, or of signing up for one who never ordered.
	FirstOrderAt time.Time
	// LastOrderAt is when the customer last ordered; zero (null) for a
	// customer who signed up and never ordered.
	LastOrderAt time.Time
	// Channel is where the customer came from: online, store or partner.
	Channel string
	// Region is north, south, east, west or central.
	Region string
}

// Channels and regions, in the order of their weights below.
var (
	Channels = []string{"online", "store", "partner"}
	Regions  = []string{"east", "south", "north", "central", "west"}
)

// The retail model's parameters. docs/demo-data.md explains them.
var (
	channelShare = cumulative(0.55, 0.30, 0.15)
	// Store customers buy less often, in bigger baskets; partner
	// (marketplace, reseller) customers spend less per order.
	channelValue = [...]float64{1.0, 1.3, 0.8}
	channelFreq  = [...]float64{1.1, 0.85, 0.9}

	regionShare = cumulative(0.32, 0.24, 0.18, 0.14, 0.12)
	regionValue = [...]float64{1.15, 1.05, 1.0, 0.9, 0.85}

	// acquiredIn scales the spend of customers by the month of their
	// first order: customers won in a promotion (the 618 festival,
	// Singles' Day, the year-end holidays) are bargain hunters who spend
	// less for the rest of their lives.
	acquiredIn = [12]float64{1.0, 1.05, 1.0, 1.0, 1.0, 0.9, 1.0, 1.0, 1.0, 1.0, 0.8, 0.9}
	// orderSeason weighs when orders are placed; orderSeasonMax is its
	// largest weight. seasonValue scales an order's value by its month.
	orderSeason    = [12]float64{1.0, 0.8, 0.95, 0.95, 1.0, 1.15, 0.95, 0.95, 1.0, 1.05, 1.35, 1.2}
	orderSeasonMax = 1.35
	seasonValue    = [12]float64{0.95, 0.9, 1.0, 1.0, 1.0, 1.05, 1.0, 1.0, 1.0, 1.0, 1.1, 1.15}
)

const (
	neverOrdered = 0.03 // signed up, never ordered: last_order_at is null

	orderValue    = 320  // median of a customer's average order value
	orderValueSD  = 0.9  // ... its log-scale spread between customers
	orderNoiseSD  = 0.35 // log-scale spread of one customer's orders
	ordersPerYear = 5.0  // median of a customer's order rate
	ordersSD      = 0.5  // ... its log-scale spread between customers
	valueFreqRho  = 0.3  // customers who order often also spend more per order
	maxPerYear    = 150.0

	bigSpenders     = 0.005 // share of customers in the Pareto tail
	bigSpenderAlpha = 2.5   // the tail's index: smaller is heavier
	bigSpenderFreq  = 2.0   // big spenders also order more often

	dropout      = 0.02 // after each order, the chance the customer goes quiet
	dropoutSD    = 0.6  // ... its log-scale spread between customers
	comeBack     = 0.5  // the chance a quiet customer ever orders again
	quietYears   = 1.4  // mean time (years) until a quiet customer comes back
	shift        = 0.05 // after each order, the chance the customer's habits change
	shiftFreqSD  = 0.7  // log-scale size of a change in order rate
	shiftValueSD = 0.3  // ... and in order value
)

// Generator streams retail customers in ID order. It is not safe for
// concurrent use; give each goroutine its own.
type Generator struct {
	cfg  Config
	cal  *calendar
	arr  arrivals
	rnd  *stream
	n    int64
	next int64
}

// Retail returns a generator of the retail customers cfg describes.
func Retail(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("retail generator: %w", err)
	}
	cal := newCalendar(cfg)
	return &Generator{cfg: cfg, cal: cal, arr: arrivals{c: cal}, rnd: newStream(), n: cal.population(), next: 1}, nil
}

// Len is how many customers the generator produces in all: Customers,
// plus those who arrived between AsOf and the snapshot.
func (g *Generator) Len() int64 { return g.n }

// SnapshotAt is when the facts are taken.
func (g *Generator) SnapshotAt() time.Time { return g.cfg.SnapshotAt() }

// Next returns the next customer, or false when all have been produced.
func (g *Generator) Next() (Customer, bool) {
	if g.next > g.n {
		return Customer{}, false
	}
	id := g.next
	g.next++
	return g.customer(id, g.arr.next(id)), true
}

const retailSalt = 0x7265_7461_696c // "retail"

// customer simulates one customer's orders from the first to the
// snapshot and sums them into facts.
func (g *Generator) customer(id int64, first float64) Customer {
	c := Customer{ID: id, FirstOrderAt: g.cal.date(min(first, math.Nextafter(g.cal.snap, 0)))}
	var last float64
	ordered := false
	ch, reg := g.simulate(id, first, func(t, value, noise float64) {
		last, ordered = t, true
		// Every order draws its value (simulate), but only the orders the
		// facts count work it out.
		if t < g.cal.w24 {
			return
		}
		if v := g.amount(t, value, noise); t >= g.cal.w12 {
			c.Spend12m += v
			c.Orders12m++
		} else {
			c.SpendPrev12m += v
		}
	})
	c.Channel, c.Region = Channels[ch], Regions[reg]
	if ordered {
		c.Spend12m, c.SpendPrev12m = cents(c.Spend12m), cents(c.SpendPrev12m)
		c.LastOrderAt = g.cal.time(last)
	}
	return c
}

// simulate runs one customer's orders from the first to the snapshot,
// calling order for each with its time and what its amount is worked out
// from (Generator.amount), and returns the customer's channel and region; a
// customer who never ordered places none. Everything is drawn from the
// customer's own stream in time order, each order's value whether or not
// it is worked out, so a later snapshot replays the same orders and adds
// the ones after, and the facts (customer) and the orders
// (Generator.orders) of one Config are one simulation.
func (g *Generator) simulate(id int64, first float64, order func(t, value, noise float64)) (ch, reg int) {
	r, cal := g.rnd, g.cal
	r.reset(g.cfg.Seed, retailSalt, id)
	if first >= cal.snap {
		first = math.Nextafter(cal.snap, 0)
	}
	ch = pick(channelShare, r.Float64())
	reg = pick(regionShare, r.Float64())
	if r.chance(neverOrdered) {
		return ch, reg
	}
	z1 := r.NormFloat64()
	z2 := valueFreqRho*z1 + math.Sqrt(1-valueFreqRho*valueFreqRho)*r.NormFloat64()
	acq := acquiredIn[cal.monthOf(first)]
	value := orderValue * math.Exp(orderValueSD*z1) * channelValue[ch] * regionValue[reg] * acq
	perYear := ordersPerYear * math.Exp(ordersSD*z2) * channelFreq[ch] * acq
	if r.chance(bigSpenders) {
		value *= 6 * r.pareto(bigSpenderAlpha)
		perYear *= bigSpenderFreq
	}
	quit := min(dropout*r.lognormal(0, dropoutSD), 0.5)
	for t := first; t < cal.snap; {
		order(t, value, r.NormFloat64())
		if r.chance(shift) {
			perYear *= r.lognormal(0, shiftFreqSD)
			value *= r.lognormal(0, shiftValueSD)
		}
		if r.chance(quit) {
			if !r.chance(comeBack) {
				break
			}
			t += r.ExpFloat64() * quietYears * 365.25
			continue
		}
		t = g.nextOrder(t, min(perYear, maxPerYear))
	}
	return ch, reg
}

// amount is the amount, to the cent, of an order at t of a customer whose
// orders are worth value, with its own noise.
func (g *Generator) amount(t, value, noise float64) float64 {
	return cents(value * math.Exp(orderNoiseSD*noise-orderNoiseSD*orderNoiseSD/2) * seasonValue[g.cal.monthOf(t)])
}

// nextOrder returns when the order after t is placed: a Poisson process
// at perYear orders a year, thinned by the season.
func (g *Generator) nextOrder(t, perYear float64) float64 {
	r, cal := g.rnd, g.cal
	rate := perYear * orderSeasonMax / 365.25
	for {
		t += r.ExpFloat64() / rate
		if t >= cal.snap || r.Float64()*orderSeasonMax < orderSeason[cal.monthOf(t)] {
			return t
		}
	}
}
