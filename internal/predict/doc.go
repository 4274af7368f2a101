// Package predict owns tierflow's predictive customer-base models: the
// BG/NBD model of repeat purchasing and dropout (Fader, Hardie and Lee
// 2005, "Counting your customers the easy way") and the Gamma-Gamma model
// of spend per transaction (Fader, Hardie and Lee 2005, "RFM and CLV:
// Using iso-value curves").
//
// It turns one customer's transactions into the summary the models read
// ([Summarize], [Summarizer]: frequency x, recency t_x and age T at a
// calibration end, and the mean repeat-transaction value), fits the models
// by maximum likelihood over a population ([FitBGNBD], [FitGammaGamma]),
// with diagnostics in a JSON-serialisable [FitReport], and scores one
// customer at a time without allocating ([BGNBD.PAlive],
// [BGNBD.ExpectedPurchases], [GammaGamma.ExpectedSpend]).
//
// The package is pure like engine: it reads no clock, file or database, and
// the same inputs always give the same fit, whatever the number of workers.
// The optimisation (BFGS) and the special functions (digamma, the Gaussian
// hypergeometric function 2F1) come from gonum. docs/predict.md describes
// the models, the conventions and the check against the paper on CDNOW.
package predict
