package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// payloadValue returns why v, one payload field's value, cannot be
// queued as JSON, or nil. A number must be finite: NaN and the
// infinities, which a division by zero gives, have no JSON form.
func payloadValue(v any) error {
	switch x := v.(type) {
	case nil, string, bool, int, int64, time.Duration:
		return nil
	case float64:
		return finite(x)
	case float32:
		return finite(float64(x))
	case time.Time:
		// JSON holds the years 0 to 9999 only.
		_, err := x.MarshalJSON()
		return err
	case []any:
		for i, item := range x {
			if err := payloadValue(item); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
		return nil
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if err := payloadValue(x[k]); err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
		}
		return nil
	}
	// Anything else an expression can return, such as the []int of a
	// range, is rare: encoding it is the check.
	_, err := json.Marshal(v)
	return err
}

func finite(x float64) error {
	if x-x == 0 {
		return nil
	}
	return nonFinite(x)
}

// nonFinite is NaN or an infinity where a finite number is needed.
type nonFinite float64

func (x nonFinite) Error() string { return fmt.Sprintf("%v is not a finite number", float64(x)) }

// payloadField is a payload field's path in rule errors.
func payloadField(a *rules.Action, p rules.PayloadField) string {
	if p.Expr != nil {
		return p.Expr.Field
	}
	return "actions." + a.Name + ".payload." + p.Name
}
