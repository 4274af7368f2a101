package sqlite

import (
	"time"

	"github.com/tierflow/tierflow/jobs/kernel"
)

// derivedSQL is SQLite's part of the aggregate of derived facts. SQLite
// keeps times as text: they compare as seconds since 1970 with
// milliseconds (unixepoch(t, 'subsec'), which reads the shapes rules
// accept, 2024-06-30, 2024-06-30T02:00:00Z, 2024-06-30 02:00:00+08:00);
// a time that is not text or does not parse is NULL, and so unreadable.
// A number is an integer or a real, or text that reads as one.
var derivedSQL = &kernel.DerivedSQL{
	Time: func(expr string) string {
		return "(CASE WHEN typeof(" + expr + ") = 'text' THEN unixepoch(" + expr + ", 'subsec') END)"
	},
	TimeArg:  func(t time.Time) any { return float64(t.UnixMicro()) / 1e6 },
	ScanTime: kernel.UnixTime,
	Number: func(expr string) string {
		return "(CASE WHEN typeof(" + expr + ") IN ('integer', 'real') THEN " + expr +
			" WHEN typeof(" + expr + ") = 'text' AND trim(" + expr + ") <> '' AND trim(" + expr + ") NOT GLOB '*[^0-9.eE+-]*' THEN CAST(trim(" + expr + ") AS REAL) END)"
	},
	Text: func(expr string) string { return "CAST(" + expr + " AS TEXT)" },
}
