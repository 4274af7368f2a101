package population

import (
	"errors"
	"fmt"
	"strconv"
)

// MaxRFMBins is the most bins an [RFM] score may have, so that each score
// is one digit of the code.
const MaxRFMBins = 9

// codes holds every RFM code from "111" to "999", so that Code allocates
// nothing.
var codes = func() []string {
	out := make([]string, MaxRFMBins*MaxRFMBins*MaxRFMBins)
	for i := range out {
		out[i] = strconv.Itoa(100*(i/81+1) + 10*(i/9%9+1) + i%9 + 1)
	}
	return out
}()

// RFM scores customers by recency, frequency and monetary value, each in
// bins (5 is the usual) where the top bin is the best: R is the bin of
// the recency in days in descending order ([Column.NtileDesc]), so the
// fewest days since the last order score highest; F and M are the bins
// of frequency and monetary value in ascending order ([Column.Ntile]).
type RFM struct {
	recency, frequency, monetary *Column
	bins                         int
}

// NewRFM returns the RFM scoring over three frozen or yet-to-be-frozen
// columns: recency in days, frequency and monetary value.
func NewRFM(recency, frequency, monetary *Column, bins int) (*RFM, error) {
	if recency == nil || frequency == nil || monetary == nil {
		return nil, errors.New("rfm: a column is missing: give the recency, frequency and monetary columns")
	}
	if bins < 1 || bins > MaxRFMBins {
		return nil, fmt.Errorf("rfm: %d bins: give 1 to %d bins (5 is the usual), so each score is one digit", bins, MaxRFMBins)
	}
	return &RFM{recency: recency, frequency: frequency, monetary: monetary, bins: bins}, nil
}

// Scores are one customer's RFM scores, each from 1 to the number of
// bins, or 0 when the customer has no value for that fact.
type Scores struct {
	R, F, M int
}

// Code returns the combined code such as "555" (the best with 5 bins),
// or "" when a score is 0.
func (s Scores) Code() string {
	if s.R < 1 || s.F < 1 || s.M < 1 || s.R > MaxRFMBins || s.F > MaxRFMBins || s.M > MaxRFMBins {
		return ""
	}
	return codes[(s.R-1)*81+(s.F-1)*9+s.M-1]
}

// R returns the recency score of a recency in days.
func (r *RFM) R(days float64) int { return r.recency.NtileDesc(days, r.bins) }

// F returns the frequency score of a number of orders.
func (r *RFM) F(orders float64) int { return r.frequency.Ntile(orders, r.bins) }

// M returns the monetary score of an amount.
func (r *RFM) M(amount float64) int { return r.monetary.Ntile(amount, r.bins) }

// Score returns the scores of a customer who has all three facts. For a
// customer without one, set that score to 0: Scores{F: r.F(f), M: r.M(m)}.
func (r *RFM) Score(days, orders, amount float64) Scores {
	return Scores{R: r.R(days), F: r.F(orders), M: r.M(amount)}
}
