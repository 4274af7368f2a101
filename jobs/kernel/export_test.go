package kernel

import "database/sql"

// SetDecidedHook makes decidedSQL's condition f's rewrite of it, until
// the returned func is called.
func SetDecidedHook(f func(cond string) string) (restore func()) {
	old := decidedHook
	decidedHook = f
	return func() { decidedHook = old }
}

// MergeRows is newMergedRows, for tests.
func MergeRows(rows []*sql.Rows) (Rows, error) { return newMergedRows(rows) }
