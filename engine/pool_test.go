package engine_test

import (
	"math"
	"math/rand"
	"strconv"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// retailAsOf is the as-of time of the generated retail customers.
var retailAsOf = date("2024-07-01")

// retailPool generates n customers for the retail rule set from seed:
// spend spread over five orders of magnitude, some never ordering (null
// last_order_at), and previous state for most of them. About three in
// four previous assignments are what the rules would decide anyway, as
// in a real run where most customers do not move; the rest are random,
// some with a pending downgrade; one in ten customers has no previous
// state at all.
func retailPool(rs *rules.RuleSet, n int, seed int64) []*engine.Customer {
	r := rand.New(rand.NewSource(seed))
	e := engine.New(rs)
	channels := []string{"online", "online", "store", "partner"}
	dayBefore := func(maxDays int) time.Time {
		return retailAsOf.Add(-time.Duration(r.Intn(maxDays)) * 24 * time.Hour)
	}
	pool := make([]*engine.Customer, n)
	for i := range pool {
		spend := math.Round(math.Exp(r.Float64()*12)*100) / 100 // 1 .. ~160k
		prevSpend := spend * (0.3 + r.Float64()*2.2)            // below half of it for about one in four
		if r.Intn(10) == 0 {
			prevSpend = 0
		}
		first := dayBefore(3000)
		// Most customers ordered recently; about one in six over a year
		// ago; one in ten never.
		var last any
		if r.Intn(10) != 0 {
			t := retailAsOf.Add(-time.Duration(r.ExpFloat64()*200*24) * time.Hour)
			if t.Before(first) {
				t = first
			}
			last = t
		}
		row, err := rs.Facts.Row(map[string]any{
			"spend_12m":      spend,
			"spend_prev_12m": prevSpend,
			"orders_12m":     r.Intn(25),
			"first_order_at": first,
			"last_order_at":  last,
			"channel":        channels[r.Intn(len(channels))],
		})
		if err != nil {
			panic(err)
		}
		c := &engine.Customer{Key: "c" + strconv.Itoa(i), Facts: row}
		if r.Intn(10) != 0 {
			natural := e.Evaluate(retailAsOf, c)
			c.State.Segments = make([]engine.Assignment, len(rs.Segmentations))
			for si, s := range rs.Segmentations {
				a := engine.Assignment{Segment: natural.Segments[si].Segment, Since: dayBefore(1500)}
				if r.Intn(4) == 0 {
					a.Segment = s.Segments[r.Intn(len(s.Segments))].Name
				}
				if r.Intn(8) == 0 {
					a.PendingSince = dayBefore(120)
				}
				c.State.Segments[si] = a
			}
			c.State.LastActions = make([]time.Time, len(rs.Actions))
			for ai := range rs.Actions {
				if r.Intn(3) == 0 {
					c.State.LastActions[ai] = dayBefore(400)
				}
			}
		}
		pool[i] = c
	}
	return pool
}
