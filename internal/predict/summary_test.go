package predict_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/predict"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestSummarizeConventions: purchase days, not orders; the end day
// included, later days ignored; measured from the first day; the mean of
// the repeat days.
func TestSummarizeConventions(t *testing.T) {
	end := day("2024-03-31 00:00")
	for _, tc := range []struct {
		name  string
		txs   []predict.Transaction
		unit  predict.Unit
		sum   predict.Summary
		spend predict.Spend
	}{
		{"one purchase", []predict.Transaction{{day("2024-03-01 10:00"), 20}}, predict.Days,
			predict.Summary{X: 0, Tx: 0, T: 30}, predict.Spend{}},
		{"same day is one purchase", []predict.Transaction{{day("2024-03-01 10:00"), 20}, {day("2024-03-01 18:00"), 5}, {day("2024-03-08 09:00"), 10}, {day("2024-03-08 23:59"), 30}}, predict.Days,
			predict.Summary{X: 1, Tx: 7, T: 30}, predict.Spend{X: 1, Mean: 40}},
		{"the end day counts, later days do not", []predict.Transaction{{day("2024-03-03 00:00"), 1}, {day("2024-03-31 23:00"), 9}, {day("2024-04-01 00:00"), 100}}, predict.Weeks,
			predict.Summary{X: 1, Tx: 4, T: 4}, predict.Spend{X: 1, Mean: 9}},
		{"unsorted", []predict.Transaction{{day("2024-03-17 12:00"), 30}, {day("2024-03-03 08:00"), 1}, {day("2024-03-10 12:00"), 10}}, predict.Weeks,
			predict.Summary{X: 2, Tx: 2, T: 4}, predict.Spend{X: 2, Mean: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum, spend, err := predict.Summarize(tc.txs, predict.Calibration{End: end, Unit: tc.unit})
			if err != nil || sum != tc.sum || spend != tc.spend {
				t.Errorf("got %+v %+v %v, want %+v %+v", sum, spend, err, tc.sum, tc.spend)
			}
		})
	}
}

// TestSummarizeDaysInLocation: purchase days are calendar days where the
// calibration says, and a daylight-saving change does not make a day
// fractional. The end is read in the same location.
func TestSummarizeDaysInLocation(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	txs := []predict.Transaction{{day("2024-03-30 22:30"), 1}, {day("2024-03-30 23:30"), 2}} // UTC: 23:30 and 00:30 in Paris
	c := predict.Calibration{End: day("2024-04-07 12:00"), Unit: predict.Days}
	if s, _, err := predict.Summarize(txs, c); err != nil || s != (predict.Summary{X: 0, Tx: 0, T: 8}) {
		t.Errorf("UTC days: %+v %v", s, err)
	}
	c.Location = paris
	if s, _, err := predict.Summarize(txs, c); err != nil || s != (predict.Summary{X: 1, Tx: 1, T: 8}) {
		t.Errorf("Paris days: %+v %v", s, err)
	}
}

func TestSummarizeErrors(t *testing.T) {
	end := day("2024-03-31 00:00")
	_, _, err := predict.Summarize([]predict.Transaction{{day("2024-04-02 10:00"), 5}}, predict.Calibration{End: end, Unit: predict.Days})
	if !errors.Is(err, predict.ErrNoPurchase) {
		t.Errorf("only later purchases: %v, want ErrNoPurchase", err)
	}
	for _, tc := range []struct {
		name string
		c    predict.Calibration
		txs  []predict.Transaction
		want string
	}{
		{"no end", predict.Calibration{Unit: predict.Days}, nil, "calibration: end is not set"},
		{"unknown unit", predict.Calibration{End: end, Unit: "months"}, nil, `unknown time unit "months": use days or weeks`},
		{"amount not a number", predict.Calibration{End: end, Unit: predict.Days},
			[]predict.Transaction{{day("2024-03-01 10:00"), 1}, {day("2024-03-02 10:00"), nan()}}, "transaction 2 (2024-03-02T10:00:00Z): amount NaN is not a number"},
	} {
		if _, _, err := predict.Summarize(tc.txs, tc.c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	s := predict.NewSummarizer(predict.Calibration{End: end, Unit: predict.Days})
	s.Add(day("2024-03-10 10:00"), 1)
	if err := s.Add(day("2024-03-09 10:00"), 1); err == nil || !strings.Contains(err.Error(), "transaction 2 (2024-03-09T10:00:00Z) is earlier than the one before it") {
		t.Errorf("out of order: %v", err)
	}
	s.Reset()
	if _, _, err := s.Result(); !errors.Is(err, predict.ErrNoPurchase) {
		t.Errorf("after Reset: %v, want ErrNoPurchase", err)
	}
}

func nan() float64 {
	var zero float64
	return zero / zero
}

func TestParseUnit(t *testing.T) {
	if u, err := predict.ParseUnit("weeks"); err != nil || u != predict.Weeks || u.FromDays(14) != 2 {
		t.Errorf("weeks: %v %v", u, err)
	}
	if _, err := predict.ParseUnit("fortnights"); err == nil || !strings.Contains(err.Error(), "use days or weeks") {
		t.Errorf("fortnights: %v", err)
	}
}
