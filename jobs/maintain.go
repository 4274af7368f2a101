package jobs

import (
	"context"

	"github.com/tierflow/tierflow/rules"
)

// Maintainer is implemented by state stores that keep data derived from
// the state (summaries that reports read instead of the whole queue and
// history) and bring it up to date after each successful apply. Apply
// calls Maintain after its own commit, so that the apply never waits for
// it or fails because of it; what a store keeps this way must therefore
// be recomputable from the state alone, and readers must tell when it is
// behind and fall back to reading the state.
type Maintainer interface {
	Maintain(ctx context.Context, rs *rules.RuleSet) error
}
