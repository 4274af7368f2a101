// Package sqlexpr translates compiled rule expressions into PostgreSQL
// expressions that compute the same value for every customer, or says why
// it cannot.
//
// Exactness is the requirement, not an aim. Each translation has three
// parts, all SQL over the columns a Scope names:
//
//   - Inexact is true for the rows where PostgreSQL cannot be trusted to
//     give the engine's answer (or would abort the statement instead): a
//     float product or quotient that could overflow or underflow float8,
//     which PostgreSQL refuses where Go gives ±Inf or 0, a float divided
//     by zero, which Go makes ±Inf or NaN. Those rows are few (no real
//     fact comes near 1e150) and are left to the engine.
//   - Error is true, where Inexact is not, for the rows on which the
//     engine reports a rule error for the customer: a null fact where a
//     value is needed, an integer divided by zero, a helper's refusal
//     (ratio with a zero divisor, pct_change from 0).
//   - Value is the expression's value where neither is true.
//
// Evaluate them in that order, with CASE, which is the only construct
// whose order PostgreSQL promises:
//
//	CASE WHEN <inexact> THEN 'engine' WHEN <error> THEN 'error' WHEN <value> THEN 'yes' ELSE 'no' END
//
// None of the three parts raises an error on any row where the parts
// before it are false, so a translated statement is never aborted by a
// customer's facts: integer arithmetic is done in numeric and wrapped to
// 64 bits as Go wraps it, divisors go through NULLIF, and every float
// operation that PostgreSQL could refuse is guarded by Inexact.
//
// On top of single expressions, MatchSegmentation chains a
// segmentation's conditions into the first-match CASE the engine
// evaluates, and Decide applies min_stay and downgrade_grace to the match
// and the previous assignment, as the engine decides a segmentation.
//
// What has no exact translation is refused with an *Unsupported error
// that names the expression, the position of the construct in it and the
// reason: calendar helpers in a time zone (Go and PostgreSQL carry their
// own time-zone databases), lower, upper and trim (Unicode case and space
// rules differ), string() of a float (Go's formatting), ** (Go's math.Pow
// and the C library's pow differ in the last bit), regular expressions,
// and list predicates. docs/rules.md lists what translates.
package sqlexpr
