package postgres

import (
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs/kernel"
)

// derivedSQL is PostgreSQL's part of the aggregate of derived facts.
// Times are cast to timestamptz (a date or a timestamp without a zone is
// read in UTC, as beginRead's session sets), numbers to float8; a value
// that does not cast fails the query, naming it.
var derivedSQL = &kernel.DerivedSQL{
	Time:    func(expr string) string { return "(" + expr + ")::timestamptz" },
	TimeArg: func(t time.Time) any { return t.UTC() },
	ScanTime: func(v any) (time.Time, error) {
		t, ok := v.(time.Time)
		if !ok {
			return time.Time{}, fmt.Errorf("unexpected %v (%T) for a time", v, v)
		}
		return t.UTC(), nil
	},
	Number: func(expr string) string { return "(" + expr + ")::float8" },
	Text:   func(expr string) string { return "(" + expr + ")::text" },
}
