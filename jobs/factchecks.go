package jobs

import "github.com/tierflow/tierflow/rules"

// The declared checks of a fact (rules.FactChecks), as the collector
// reads them. A fact without checks has a nil Checks.

func factUnique(f rules.Field) bool { return f.Checks != nil && f.Checks.Unique }

func factViolation(f *rules.Field, v any) string { return f.Checks.Violation(v) }

// factHasValueChecks reports whether the fact declares a check on its
// values: min, max, one_of or unique.
func factHasValueChecks(f *rules.Field) bool {
	c := f.Checks
	return c != nil && (c.Min != nil || c.Max != nil || c.MinTime != nil || c.MaxTime != nil || c.OneOf != nil || c.Unique)
}

func factCheckNames(f *rules.Field) string { return f.Checks.String() }

func factMaxNullShare(f *rules.Field) (float64, bool) {
	if f.Checks == nil || f.Checks.MaxNullShare == nil {
		return 0, false
	}
	return *f.Checks.MaxNullShare, true
}
