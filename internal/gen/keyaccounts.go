package gen

import (
	"fmt"
	"time"
)

// Account holds one B2B account's facts: what examples/b2b/key_accounts.yaml
// and churn_signals.yaml read, and the account's region. A nullable
// fact is null when its field is zero.
type Account struct {
	ID int64
	// CustomerSince is the date of the first contract or order.
	CustomerSince time.Time
	// OrderMonths12m counts the calendar months, of the 12 before the
	// snapshot's month, with at least one order.
	OrderMonths12m int
	// Revenue12m is invoiced revenue over those 12 months, CNY.
	Revenue12m float64
	// ContractValue is the annual value of the framework contract; 0 if
	// none.
	ContractValue float64
	// DaysPastDueAvg is how late, on average, the last 12 months'
	// invoices were paid.
	DaysPastDueAvg float64
	// CreditLimit is the credit line; 0 for accounts that pay in advance.
	CreditLimit float64
	// Receivables are the open invoices at the snapshot.
	Receivables float64
	// CreditScore is 1-100; 0 (null) for an account that is not rated.
	CreditScore int
	// Purchases12m is Revenue12m seen from the account (churn_signals
	// calls it purchases); PurchasesPrev12m is the 12 months before.
	Purchases12m     float64
	PurchasesPrev12m float64
	// LastOrderAt is zero (null) for an account that never ordered.
	LastOrderAt time.Time
	// ManagerLeftAt is when the account's manager last left it; zero
	// (null) if the first manager is still in place.
	ManagerLeftAt time.Time
	// Satisfaction is the latest survey score (1-5) and SatisfactionPrev
	// the one before; zero (null) when there was no such survey.
	Satisfaction     float64
	SatisfactionPrev float64
	Region           string
}

// DefaultAccountYears is the history of KeyAccounts when Config.Years is
// 0: long enough for accounts of five years and more (loyal ones).
const DefaultAccountYears = 12

// The B2B model's parameters. docs/demo-data.md explains them.
const (
	accountValue      = 450_000.0 // median annual value of an account, CNY
	accountValueSD    = 1.4       // ... its log-scale spread
	sizeOrderRho      = 0.4       // bigger accounts order more regularly
	orderOddsMean     = 1.0       // monthly chance of an order: logistic(N(mean, sd))
	orderOddsSD       = 1.3
	neverOrderedB2B   = 0.02 // signed, never ordered
	contractShare     = 0.4  // accounts with a framework contract
	prepayShare       = 0.15 // accounts that pay in advance: no credit line
	unratedShare      = 0.2  // accounts without a credit score
	surveyedShare     = 0.75 // accounts that answer satisfaction surveys
	declineYears      = 15.0 // mean time to a lasting drop in purchases
	declineFactor     = 0.3  // ... which cuts spend to this share
	quitYears         = 30.0 // mean time until the account stops ordering
	managerLeaveYears = 4.0  // mean time between account-manager departures
	troubleYears      = 6.0  // mean time between payment troubles
	troubleMonths     = 4.0  // mean length of one
)

// AccountGenerator streams B2B accounts in ID order. It is not safe for
// concurrent use.
type AccountGenerator struct {
	cfg  Config
	cal  *calendar
	arr  arrivals
	rnd  *stream
	n    int64
	next int64
	// Calendar months since the calendar's start: the snapshot's month,
	// and the first day of each month up to it.
	snapMonth int
	monthDay  []float64
	scratch   acct
}

// KeyAccounts returns a generator of the B2B accounts cfg describes.
func KeyAccounts(cfg Config) (*AccountGenerator, error) {
	if cfg.Years == 0 {
		cfg.Years = DefaultAccountYears
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("key accounts generator: %w", err)
	}
	cal := newCalendar(cfg)
	g := &AccountGenerator{cfg: cfg, cal: cal, arr: arrivals{c: cal}, rnd: newStream(), n: cal.population(), next: 1}
	snap := cfg.SnapshotAt()
	for m := 0; ; m++ {
		start := cal.start.AddDate(0, m, 0)
		if start.After(snap) {
			break
		}
		g.monthDay = append(g.monthDay, cal.days(start))
		if !start.AddDate(0, 1, 0).After(snap) {
			g.snapMonth = m + 1
		}
	}
	g.monthDay = append(g.monthDay, cal.days(cal.start.AddDate(0, len(g.monthDay), 0)))
	return g, nil
}

// Len is how many accounts the generator produces in all.
func (g *AccountGenerator) Len() int64 { return g.n }

// SnapshotAt is when the facts are taken.
func (g *AccountGenerator) SnapshotAt() time.Time { return g.cfg.SnapshotAt() }

// Next returns the next account, or false when all have been produced.
func (g *AccountGenerator) Next() (Account, bool) {
	if g.next > g.n {
		return Account{}, false
	}
	id := g.next
	g.next++
	return g.account(id, g.arr.next(id)), true
}

// monthOf returns the calendar month index a day falls in.
func (g *AccountGenerator) monthOf(x float64) int {
	m := min(max(0, int(x/30.44)), len(g.monthDay)-2)
	for m > 0 && g.monthDay[m] > x {
		m--
	}
	for m+1 < len(g.monthDay) && g.monthDay[m+1] <= x {
		m++
	}
	return m
}
