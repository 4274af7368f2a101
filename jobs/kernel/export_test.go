package kernel

// SetDecidedHook makes decidedSQL's condition f's rewrite of it, until
// the returned func is called.
func SetDecidedHook(f func(cond string) string) (restore func()) {
	old := decidedHook
	decidedHook = f
	return func() { decidedHook = old }
}
