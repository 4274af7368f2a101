// Package population computes the facts that depend on a whole run's
// population rather than on one customer: percentile ranks, quantile
// bins (ntile), RFM scores and ABC (Pareto) classes.
//
// Rules see one customer at a time, so these facts are computed in two
// passes. In the first, a run feeds every customer's value of a fact to a
// [Column] with [Column.Add], as it reads the facts; [Column.Freeze] then
// sorts what it holds. In the second pass each customer's value is looked
// up: [Column.PercentRank], [Column.CumeDist], [Column.Ntile],
// [Column.NtileDesc], [Column.ShareAbove] and [Column.ABC] are O(log n),
// allocate nothing, and are safe for concurrent use once frozen. [RFM]
// scores recency, frequency and monetary value over three columns.
//
// Every result is a function of the value alone, so equal values always
// get equal results, whatever order customers come in. Missing values
// (Add with ok false) are left out of the population; the caller gives
// those customers a null result. NaN and infinities are refused with a
// [ValueError] naming the fact.
//
// A column is exact up to [Options.ExactLimit] values (1,000,000 by
// default), holding 8 bytes per value while reading and 16 after Freeze.
// Past that limit it switches to a KLL sketch of bounded size (about
// 3 × [Options.SketchK] values), whose rank error is bounded and reported
// by [Column.Stats]. The definitions, the SQL that reproduces each of them
// and the error bound are in docs/population.md.
//
// The package is pure: no clock, no files, no database.
package population
