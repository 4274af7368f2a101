package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lib/pq"
)

// A read Citus refuses because the facts are not co-located with the
// state gets advice that names what to distribute and where the docs
// are; other errors, Citus's other refusals included, get none.
func TestCitusAdvice(t *testing.T) {
	colocation := &pq.Error{Code: "0A000", Message: "complex joins are only supported when all distributed tables are co-located and joined on their distribution columns"}
	if a := citusAdvice(fmt.Errorf("read: %w", colocation)); !strings.Contains(a, "co-located with tierflow's customer_state") || !strings.Contains(a, "docs/operations.md#citus") {
		t.Errorf("advice for a join of tables not co-located: %q", a)
	}
	for _, err := range []error{
		&pq.Error{Code: "0A000", Message: "cannot push down this subquery"},
		&pq.Error{Code: "22012", Message: "division by zero"},
		errors.New("co-located"),
		nil,
	} {
		if a := citusAdvice(err); a != "" {
			t.Errorf("advice for %v: %q, want none", err, a)
		}
	}
}
