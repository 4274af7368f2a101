package sqlexpr

import "testing"

// An action condition needs no SQL when it can hold only for a customer
// who moves; one that can hold for a customer who stays is translated.
func TestTransitionGated(t *testing.T) {
	for src, want := range map[string]bool{
		`entered("lifecycle", "at_risk") && segment.value_tier in ["vip", "key"]`: true,
		`downgraded("value_tier") and previous.value_tier == "vip"`:               true,
		`left("lifecycle", "active") || upgraded("value_tier")`:                   true,
		`changed("x") ? entered("y", "a") : left("y")`:                            true,
		`x > 1 && (entered("a", "b") || changed("c"))`:                            true,
		`entered("a", "b") || days_in("a") > 30`:                                  false,
		`!entered("a", "b")`:                                                      false,
		`not changed("a") && x > 1`:                                               false,
		`segment.value_tier == "vip" && days_in("value_tier") > 60`:               false,
		`changed("x") ? true : entered("y", "a")`:                                 false,
		`entered(`: false,
	} {
		if got := transitionGated(src); got != want {
			t.Errorf("transitionGated(%s) = %v, want %v", src, got, want)
		}
	}
}
