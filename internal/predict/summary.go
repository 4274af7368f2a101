package predict

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Unit is the time unit of a summary's recency and age, and of the
// horizon of [BGNBD.ExpectedPurchases]: "days" or "weeks" (7 days, as in
// the paper). The model's alpha is in the same unit.
type Unit string

// The units a summary can be measured in.
const (
	Days  Unit = "days"
	Weeks Unit = "weeks"
)

// ParseUnit returns the unit named s, or an error that lists the units.
func ParseUnit(s string) (Unit, error) {
	switch u := Unit(s); u {
	case Days, Weeks:
		return u, nil
	}
	return "", fmt.Errorf("unknown time unit %q: use days or weeks", s)
}

// days returns the length of one unit in days; 0 for an unknown unit.
func (u Unit) days() float64 {
	switch u {
	case Days:
		return 1
	case Weeks:
		return 7
	}
	return 0
}

// FromDays converts a number of days into the unit, e.g. a horizon of
// "the next 90 days" for [BGNBD.ExpectedPurchases].
func (u Unit) FromDays(days float64) float64 {
	return days / u.days()
}

// Calibration says where a summary ends and how it is measured.
type Calibration struct {
	// End is the last day of the calibration period, inclusive: the date of
	// End in Location. Transactions on later days are ignored.
	End time.Time
	// Unit is the unit of recency and age.
	Unit Unit
	// Location is the time zone whose calendar days count as purchase
	// periods; nil means UTC.
	Location *time.Location
}

// validate reports a calibration that cannot summarise anything.
func (c Calibration) validate() error {
	if c.End.IsZero() {
		return errors.New("calibration: end is not set: give the last day of the calibration period")
	}
	if c.Unit.days() == 0 {
		return fmt.Errorf("calibration: unknown time unit %q: use days or weeks", c.Unit)
	}
	return nil
}

// day returns the calendar day of t in the calibration's location, as a
// day number (days since 1970-01-01), so that differences between days are
// whole numbers whatever the daylight-saving changes.
func (c Calibration) day(t time.Time) int64 {
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// Transaction is one order of one customer.
type Transaction struct {
	Time   time.Time
	Amount float64
}

// Summary is what BG/NBD reads of one customer at the calibration end:
// X, the number of repeat purchases (purchase days after the first); Tx,
// the recency, the time from the first purchase to the last; T, the age,
// the time from the first purchase to the calibration end. Tx and T are in
// the calibration's unit; Tx is 0 when X is 0.
type Summary struct {
	X  float64 `json:"x"`
	Tx float64 `json:"t_x"`
	T  float64 `json:"T"`
}

// Spend is what Gamma-Gamma reads of one customer: X, the number of repeat
// purchases, and Mean, the mean value of those purchases (the first purchase
// excluded; 0 when X is 0).
type Spend struct {
	X    float64 `json:"x"`
	Mean float64 `json:"mean"`
}

// ErrNoPurchase is returned for a customer with no transaction on or
// before the calibration end: not yet a customer at that date, so not part
// of the population a model is fitted on.
var ErrNoPurchase = errors.New("no purchase on or before the calibration end")

// Summarize returns the summary and the spend of one customer's
// transactions, in any order. See [Summarizer] for the conventions.
func Summarize(txs []Transaction, c Calibration) (Summary, Spend, error) {
	if !slices.IsSortedFunc(txs, compareTime) {
		txs = slices.Clone(txs)
		slices.SortStableFunc(txs, compareTime)
	}
	s := NewSummarizer(c)
	for _, tx := range txs {
		if err := s.Add(tx.Time, tx.Amount); err != nil {
			return Summary{}, Spend{}, err
		}
	}
	return s.Result()
}

func compareTime(a, b Transaction) int { return a.Time.Compare(b.Time) }
