package predict

import (
	"fmt"
	"math"
	"time"
)

// Summarizer builds one customer's [Summary] and [Spend] from a stream of
// transactions in time order, without keeping them: the streaming pass over
// a transactions source. Reset it between customers.
//
// The conventions, those that reproduce the CDNOW summary of Fader, Hardie
// and Lee from the raw transactions customer by customer:
//
//   - a purchase period is a calendar day in the calibration's location:
//     several transactions on the same day are one purchase, whose value is
//     their sum;
//   - transactions after the calibration end's day are ignored; those on
//     that day count (the end is inclusive);
//   - X is the number of purchase days after the first;
//   - Tx and T are measured from the first purchase day, to the last
//     purchase day and to the calibration end's day, in whole days divided
//     by the unit's length (weeks = days / 7);
//   - the spend's mean is the mean value of the repeat purchase days, the
//     first day excluded, as lifetimes' summary computes monetary_value.
type Summarizer struct {
	cal      Calibration
	end      int64
	n        int   // transactions added since Reset
	prev     int64 // day of the transaction added last
	first    int64
	last     int64
	days     int     // purchase days on or before the end
	dayValue float64 // value of the current (last) purchase day
	repeat   float64 // value of the repeat purchase days before the last
	err      error
}

// NewSummarizer returns a summarizer for the calibration c.
func NewSummarizer(c Calibration) *Summarizer {
	s := &Summarizer{cal: c, err: c.validate()}
	if s.err == nil {
		s.end = c.day(c.End)
	}
	return s
}

// Reset starts a new customer.
func (s *Summarizer) Reset() {
	*s = Summarizer{cal: s.cal, end: s.end, err: s.cal.validate()}
}

// Add adds the customer's next transaction. Transactions must come in
// day order (within a day, any order); an amount must be finite.
func (s *Summarizer) Add(t time.Time, amount float64) error {
	if s.err != nil {
		return s.err
	}
	s.n++
	if math.IsNaN(amount) || math.IsInf(amount, 0) {
		return fmt.Errorf("transaction %d (%s): amount %v is not a number: fix or drop the row", s.n, t.Format(time.RFC3339), amount)
	}
	d := s.cal.day(t)
	if s.n > 1 && d < s.prev {
		return fmt.Errorf("transaction %d (%s) is earlier than the one before it: give each customer's transactions in time order", s.n, t.Format(time.RFC3339))
	}
	s.prev = d
	if d > s.end {
		return nil
	}
	switch {
	case s.days == 0:
		s.first, s.last, s.days, s.dayValue = d, d, 1, amount
	case d == s.last:
		s.dayValue += amount
	default:
		if s.days > 1 {
			s.repeat += s.dayValue
		}
		s.last, s.dayValue = d, amount
		s.days++
	}
	return nil
}

// Result returns the customer's summary and spend; [ErrNoPurchase] when
// none of the transactions added is on or before the calibration end.
func (s *Summarizer) Result() (Summary, Spend, error) {
	if s.err != nil {
		return Summary{}, Spend{}, s.err
	}
	if s.days == 0 {
		return Summary{}, Spend{}, ErrNoPurchase
	}
	unit := s.cal.Unit.days()
	x := float64(s.days - 1)
	sum := Summary{X: x, Tx: float64(s.last-s.first) / unit, T: float64(s.end-s.first) / unit}
	spend := Spend{X: x}
	if s.days > 1 {
		spend.Mean = (s.repeat + s.dayValue) / x
	}
	return sum, spend, nil
}
