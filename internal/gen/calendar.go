package gen

import (
	"math"
	"time"
)

const day = 24 * time.Hour

// calendar measures time in days (float64) since the start of the
// history, a UTC midnight, and spreads customers' first orders over it.
type calendar struct {
	start time.Time
	// month is the calendar month (0-11) of each day.
	month []uint8
	// cum is the cumulative arrival weight at the start of each day:
	// customers are acquired faster as the business grows, and faster in
	// the promotion months.
	cum []float64
	// perWeight scales weight to customers, so that exactly Customers
	// customers have arrived by AsOf.
	perWeight float64
	// Days since start of: AsOf, the snapshot, and the snapshot minus 12
	// and 24 calendar months (the windows of the 12-month facts).
	asOf, snap, w12, w24 float64
}

// growth is the yearly growth rate of customer acquisition.
const growth = 0.12

// arrivalSeason weighs first orders by calendar month: the 618 festival
// (June), Singles' Day (November) and the year-end holidays bring the
// most new customers; the weeks around the Spring Festival the fewest.
var arrivalSeason = [12]float64{0.9, 0.8, 0.95, 0.95, 1.0, 1.15, 0.95, 0.95, 1.0, 1.05, 1.25, 1.1}

func newCalendar(cfg Config) *calendar {
	asOf := cfg.AsOf.UTC()
	snapT := cfg.SnapshotAt()
	y, m, d := asOf.AddDate(-cfg.years(), 0, 0).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	c := &calendar{start: start}
	c.asOf = c.days(asOf)
	c.snap = c.days(snapT)
	c.w12 = c.days(snapT.AddDate(-1, 0, 0))
	c.w24 = c.days(snapT.AddDate(-2, 0, 0))
	n := int(math.Ceil(c.snap)) + 1
	c.month = make([]uint8, n)
	c.cum = make([]float64, n+1)
	for i := range n {
		mon := int(start.AddDate(0, 0, i).Month()) - 1
		c.month[i] = uint8(mon)
		w := math.Exp(growth*float64(i)/365.25) * arrivalSeason[mon]
		c.cum[i+1] = c.cum[i] + w
	}
	c.perWeight = float64(cfg.Customers) / c.weightAt(c.asOf)
	return c
}

// days converts a time to days since the start.
func (c *calendar) days(t time.Time) float64 {
	return float64(t.Sub(c.start)) / float64(day)
}

// time converts days since the start back to a time, to the second.
func (c *calendar) time(x float64) time.Time {
	return c.start.Add(time.Duration(math.Round(x*86400)) * time.Second)
}

// date is the UTC midnight of the day x falls on.
func (c *calendar) date(x float64) time.Time {
	return c.start.AddDate(0, 0, int(x))
}

// monthOf returns the calendar month (0-11) of a day before the snapshot.
func (c *calendar) monthOf(x float64) int {
	i := int(x)
	if i < 0 {
		i = 0
	} else if i >= len(c.month) {
		i = len(c.month) - 1
	}
	return int(c.month[i])
}

// weightAt is the cumulative arrival weight at x days, interpolated
// within the day.
func (c *calendar) weightAt(x float64) float64 {
	i := int(x)
	if i >= len(c.cum)-1 {
		i = len(c.cum) - 2
	}
	return c.cum[i] + (x-float64(i))*(c.cum[i+1]-c.cum[i])
}

// population is how many customers have placed a first order (or signed
// up) before the snapshot.
func (c *calendar) population() int64 {
	return int64(math.Floor(c.weightAt(c.snap)*c.perWeight + 0.5))
}

// arrivals walks the customers in ID order and returns when each
// arrived, in days since the start. Customer i arrives when i-0.5
// customers' worth of weight has passed, so the first Customers all
// arrive before AsOf.
type arrivals struct {
	c   *calendar
	day int
}

func (a *arrivals) next(id int64) float64 {
	target := (float64(id) - 0.5) / a.c.perWeight
	for a.day < len(a.c.cum)-2 && a.c.cum[a.day+1] <= target {
		a.day++
	}
	lo, hi := a.c.cum[a.day], a.c.cum[a.day+1]
	return float64(a.day) + (target-lo)/(hi-lo)
}
