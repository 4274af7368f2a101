package predict_test

import (
	"fmt"
	"time"

	"github.com/tierflow/tierflow/internal/predict"
)

// The first customer of the CDNOW sample, summarised for the paper's
// calibration period (to 1997-09-30, in weeks): the purchase of December
// is after it.
func ExampleSummarize() {
	date := func(s string) time.Time { t, _ := time.Parse("2006-01-02", s); return t }
	txs := []predict.Transaction{
		{Time: date("1997-01-01"), Amount: 29.33},
		{Time: date("1997-01-18"), Amount: 29.73},
		{Time: date("1997-08-02"), Amount: 14.96},
		{Time: date("1997-12-12"), Amount: 26.48},
	}
	s, spend, err := predict.Summarize(txs, predict.Calibration{End: date("1997-09-30"), Unit: predict.Weeks})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("x=%v t_x=%.2f T=%.2f mean repeat value=%.3f\n", s.X, s.Tx, s.T, spend.Mean)
	// Output: x=2 t_x=30.43 T=38.86 mean repeat value=22.345
}

// The paper's BG/NBD fit on CDNOW (weeks) scores that customer: the
// expected number of purchases in the next 39 weeks is the paper's 1.226.
func ExampleBGNBD_ExpectedPurchases() {
	m := predict.BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	s := predict.Summary{X: 2, Tx: 30.43, T: 38.86}
	fmt.Printf("P(alive) %.3f, next 39 weeks %.3f purchases\n", m.PAlive(s), m.ExpectedPurchases(s, 39))
	fmt.Printf("no repeat purchase: P(alive) %.3f, next 39 weeks %.3f\n", m.PAlive(predict.Summary{T: 38.86}), m.ExpectedPurchases(predict.Summary{T: 38.86}, 39))
	// Output:
	// P(alive) 0.727, next 39 weeks 1.226 purchases
	// no repeat purchase: P(alive) 1.000, next 39 weeks 0.195
}

// Gamma-Gamma as Fader and Hardie fit it on CDNOW: a customer's expected
// spend per transaction is pulled from their own mean towards the
// population's, less so the more they bought.
func ExampleGammaGamma_ExpectedSpend() {
	m := predict.GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44}
	fmt.Printf("no repeat purchase: %.2f\n", m.ExpectedSpend(predict.Spend{}))
	fmt.Printf("2 repeat purchases of 22.35 on average: %.2f\n", m.ExpectedSpend(predict.Spend{X: 2, Mean: 22.35}))
	fmt.Printf("20 repeat purchases of 22.35 on average: %.2f\n", m.ExpectedSpend(predict.Spend{X: 20, Mean: 22.35}))
	// Output:
	// no repeat purchase: 35.22
	// 2 repeat purchases of 22.35 on average: 24.66
	// 20 repeat purchases of 22.35 on average: 22.63
}

// A fit fails loudly rather than returning defaults: here nobody came back.
func ExampleFitBGNBD_error() {
	s := make([]predict.Summary, 500)
	for i := range s {
		s[i] = predict.Summary{T: 30 + float64(i%10)}
	}
	_, _, err := predict.FitBGNBD(s, predict.FitOptions{})
	fmt.Println(err)
	// Output: bg/nbd fit: 0 of 500 customers made a repeat purchase; at least 30 are needed (FitOptions.MinRepeaters): fit on a longer calibration period or a larger population
}
