package gen

import (
	"math"
	"time"
)

// Salts of an account's random streams: one for its own traits, and one
// per event process, so that how many events one process has before the
// snapshot never shifts another's draws.
const (
	accountSalt = 0x6163_636f_756e_74 // "account"
	managerSalt = 0x6d61_6e61_6765_72 // "manager"
	troubleSalt = 0x7472_6f75_626c_65 // "trouble"
)

// acct is an account's hidden traits, from which its monthly history
// follows.
type acct struct {
	key        uint64 // seeds the per-month draws
	since      float64
	sinceMonth int
	value      float64 // annual value, CNY
	contract   float64 // annual value of the framework contract
	limit      float64 // credit line
	orderProb  float64 // monthly chance of an order
	declineAt  float64 // when purchases drop for good
	quitAt     float64 // when the account stops ordering
	dpdBase    float64
	scoreBase  float64    // 0: not rated
	satBase    float64    // 0: never surveyed
	surveyAt   int        // month of the year (0-5, +6) the account is surveyed
	left       [3]float64 // the last account-manager departures, latest first
	trouble    [3]episode
}

// episode is a spell of late payment.
type episode struct{ from, to, days float64 }

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func roundTo(v, unit float64) float64 { return math.Round(v/unit) * unit }

// u is a uniform draw in [0,1) for month m and purpose k, a pure
// function of the account, the month and the purpose: the months a
// snapshot looks at are drawn without simulating the others.
func (a *acct) u(m int, k uint64) float64 {
	x := splitmix(a.key ^ uint64(m)*0x9e3779b97f4a7c15 ^ k*0xd1b54a32d192ed03)
	return float64(x>>11) / (1 << 53)
}

// normal is a standard normal draw for month m and purpose k.
func (a *acct) normal(m int, k uint64) float64 {
	u1, u2 := a.u(m, k), a.u(m, k+100)
	return math.Sqrt(-2*math.Log(1-u1)) * math.Cos(2*math.Pi*u2)
}

// traits draws an account's hidden traits into a.
func (g *AccountGenerator) traits(a *acct, id int64, since float64) string {
	r := g.rnd
	r.reset(g.cfg.Seed, accountSalt, id)
	*a = acct{key: splitmix(uint64(g.cfg.Seed) ^ accountSalt ^ uint64(id)*0x94d049bb133111eb), since: since, sinceMonth: g.monthOf(since)}
	reg := pick(regionShare, r.Float64())
	// Bigger accounts order more regularly.
	z := r.NormFloat64()
	a.value = accountValue * math.Exp(accountValueSD*z) * regionValue[reg]
	a.orderProb = logistic(orderOddsMean + orderOddsSD*(sizeOrderRho*z+math.Sqrt(1-sizeOrderRho*sizeOrderRho)*r.NormFloat64()))
	if r.chance(neverOrderedB2B) {
		a.orderProb = 0
	}
	if r.chance(contractShare) {
		a.contract = roundTo(a.value*(0.8+0.7*r.Float64()), 1000)
	}
	// The credit line covers two to four months' orders.
	if limit := a.value / (12 * max(a.orderProb, 0.2)) * (2 + 2*r.Float64()); !r.chance(prepayShare) {
		a.limit = max(10_000, roundTo(limit, 10_000))
	}
	a.declineAt = since + r.ExpFloat64()*declineYears*365.25
	a.quitAt = since + r.ExpFloat64()*quitYears*365.25
	a.dpdBase = r.ExpFloat64() * 4
	if score := 80 + 9*r.NormFloat64(); !r.chance(unratedShare) {
		a.scoreBase = score
	}
	if sat := 3.9 + 0.5*r.NormFloat64(); r.chance(surveyedShare) {
		a.satBase = sat
	}
	a.surveyAt = r.IntN(6)

	r.reset(g.cfg.Seed, managerSalt, id)
	for t := since + r.ExpFloat64()*managerLeaveYears*365.25; t < g.cal.snap; t += r.ExpFloat64() * managerLeaveYears * 365.25 {
		copy(a.left[1:], a.left[:2])
		a.left[0] = t
	}
	r.reset(g.cfg.Seed, troubleSalt, id)
	for t := since + r.ExpFloat64()*troubleYears*365.25; t < g.cal.snap; t += r.ExpFloat64() * troubleYears * 365.25 {
		e := episode{from: t, to: t + (0.3+r.ExpFloat64())*troubleMonths*30.44, days: 15 + 45*r.Float64()}
		copy(a.trouble[1:], a.trouble[:2])
		a.trouble[0] = e
	}
	return Regions[reg]
}

// lateness is how many days late the account pays at day x: its habit,
// plus any trouble it is in.
func (a *acct) lateness(x float64) float64 {
	d := a.dpdBase
	for _, e := range a.trouble {
		if e.days > 0 && x >= e.from && x < e.to {
			d += e.days
		}
	}
	return d
}

// revenue is what the account was invoiced in month m (0 if no order).
func (g *AccountGenerator) revenue(a *acct, m int) float64 {
	start := g.monthDay[m]
	if m < a.sinceMonth || start >= a.quitAt || a.orderProb == 0 {
		return 0
	}
	p, v := a.orderProb, a.value
	if start >= a.declineAt {
		p, v = p*0.6, v*declineFactor
	}
	if a.u(m, 0) >= p {
		return 0
	}
	return roundTo(v/(12*p)*math.Exp(0.5*a.normal(m, 1)-0.125), 10)
}

func (g *AccountGenerator) account(id int64, since float64) Account {
	cal := g.cal
	if since >= cal.snap {
		since = math.Nextafter(cal.snap, 0)
	}
	a := &g.scratch
	region := g.traits(a, id, since)
	out := Account{ID: id, CustomerSince: cal.date(since), Region: region}
	var lateDays float64
	var rev [3]float64 // the last three months' revenue, latest first
	for m := max(0, g.snapMonth-24); m < g.snapMonth; m++ {
		v := g.revenue(a, m)
		if v == 0 {
			continue
		}
		if back := g.snapMonth - 1 - m; back < len(rev) {
			rev[back] = v
		}
		if m < g.snapMonth-12 {
			out.PurchasesPrev12m += v
			continue
		}
		out.Revenue12m += v
		out.OrderMonths12m++
		lateDays += a.lateness(g.monthDay[m]) * (0.8 + 0.4*a.u(m, 4))
	}
	if out.OrderMonths12m > 0 {
		out.DaysPastDueAvg = math.Round(lateDays/float64(out.OrderMonths12m)*10) / 10
	}
	out.Purchases12m = out.Revenue12m
	out.LastOrderAt = g.lastOrder(a)
	g.credit(a, &out, rev)
	if a.left[0] > 0 {
		out.ManagerLeftAt = cal.time(a.left[0])
	}
	out.Satisfaction, out.SatisfactionPrev = g.surveys(a)
	return out
}

// lastOrder finds the last month with an order and places the order in
// it; zero if the account never ordered.
func (g *AccountGenerator) lastOrder(a *acct) time.Time {
	for m := min(g.snapMonth, g.monthOf(min(a.quitAt, g.cal.snap))+1) - 1; m >= a.sinceMonth; m-- {
		if g.revenue(a, m) == 0 {
			continue
		}
		from, to := max(g.monthDay[m], a.since), g.monthDay[m+1]
		return g.cal.time(from + a.u(m, 3)*(to-from))
	}
	return time.Time{}
}

// credit works out the contract, the credit line, open invoices and the
// credit score at the snapshot. rev holds the last three months'
// revenue, latest first.
func (g *AccountGenerator) credit(a *acct, out *Account, rev [3]float64) {
	now := g.cal.snap
	declined := now >= a.declineAt
	if now < a.quitAt {
		out.ContractValue = a.contract
		if declined {
			out.ContractValue = roundTo(a.contract/2, 1000)
		}
	}
	late := a.lateness(now)
	if out.CreditLimit = a.limit; a.limit > 0 {
		// Invoices are due after 30 days: last month's are all open, and
		// older ones as far as the account pays late.
		open := rev[0] + rev[1]*min(1, late/30) + rev[2]*min(1, max(0, (late-30)/30))
		out.Receivables = roundTo(open, 10)
	}
	if a.scoreBase > 0 {
		// The score moves at a rating review, which an account has in
		// about one quarter in seven.
		q := g.snapMonth / 3
		for q > a.sinceMonth/3 && a.u(q, 7) >= 0.15 {
			q--
		}
		s := a.scoreBase + 4*a.normal(q, 6)
		if late > a.dpdBase {
			s -= 20
		}
		if declined {
			s -= 8
		}
		out.CreditScore = int(min(100, max(1, math.Round(s))))
	}
}

// surveys returns the latest satisfaction score and the one before
// (0 for none). Accounts are surveyed twice a year from their fourth
// month; a manager leaving in the 120 days before a survey, and a drop
// in purchases, lower the score.
func (g *AccountGenerator) surveys(a *acct) (latest, prev float64) {
	if a.satBase == 0 {
		return 0, 0
	}
	m := g.snapMonth - 1
	for m >= 0 && m%6 != a.surveyAt {
		m--
	}
	score := func(m int) float64 {
		if m < a.sinceMonth+3 {
			return 0
		}
		at := g.monthDay[m]
		s := a.satBase + 0.35*a.normal(m, 5)
		for _, l := range a.left {
			if l > 0 && l < at && l >= at-120 {
				s--
				break
			}
		}
		if at >= a.declineAt {
			s -= 0.6
		}
		return math.Round(min(5, max(1, s))*10) / 10
	}
	latest = score(m)
	if latest > 0 {
		prev = score(m - 6)
	}
	return latest, prev
}
