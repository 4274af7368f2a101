package sqlite

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs/kernel"
)

// stateSQL keeps state rows in JSON arrays (TEXT): segments and reasons
// as strings, times as strings in timeLayout, run ids as numbers, null
// where there is none. Position p of the layout is element p-1; an
// element past an array's end reads as NULL. docs/benchmarks.md compares
// it with other encodings.
var stateSQL = &kernel.StateSQL{
	Elem: func(expr string, pos int) string {
		return "json_extract(" + expr + ", '$[" + strconv.Itoa(pos-1) + "]')"
	},
	Array: func(_ kernel.ElemType, elems []string) string {
		if len(elems) == 0 {
			return "'[]'"
		}
		return "json_array(" + strings.Join(elems, ", ") + ")"
	},
	// SQLite's max() of two values is NULL when either is.
	Later: func(a, b string) string {
		return "CASE WHEN " + a + " IS NULL OR " + a + " < " + b + " THEN " + b + " ELSE " + a + " END"
	},
}

// stateArrays are a kernel.StateChange's arrays as the staging table's
// st_ columns take them: JSON text.
func stateArrays(c *kernel.StateChange, run int64) [6]string {
	var segs, since, pending, reasons, runs, acts jsonArray
	id := strconv.FormatInt(run, 10)
	for i, set := range c.Set {
		if !set {
			segs.null()
			since.null()
			pending.null()
			reasons.null()
			runs.null()
			continue
		}
		segs.text(c.Segments[i])
		if c.Segments[i] == "" {
			since.null() // a leave: no dates, reason or run
			pending.null()
			reasons.null()
			runs.null()
			continue
		}
		since.time(c.Since[i])
		if c.PendingSince[i].IsZero() {
			pending.null()
		} else {
			pending.time(c.PendingSince[i])
		}
		reasons.text(c.Reasons[i])
		runs.raw(id)
	}
	for _, t := range c.ActionAt {
		if t.IsZero() {
			acts.null()
		} else {
			acts.time(t)
		}
	}
	return [6]string{segs.String(), since.String(), pending.String(), reasons.String(), runs.String(), acts.String()}
}

// jsonArray builds the text of a JSON array.
type jsonArray struct{ b []byte }

func (a *jsonArray) sep() {
	if len(a.b) == 0 {
		a.b = append(a.b, '[')
	} else {
		a.b = append(a.b, ',')
	}
}

func (a *jsonArray) null() { a.raw("null") }

func (a *jsonArray) raw(s string) {
	a.sep()
	a.b = append(a.b, s...)
}

// text appends s as a JSON string. Segment names, reasons and times
// need no escaping and are appended as they are; anything else goes
// through encoding/json.
func (a *jsonArray) text(s string) {
	a.sep()
	if !plainJSON(s) {
		q, _ := json.Marshal(s) // a string always marshals
		a.b = append(a.b, q...)
		return
	}
	a.b = append(a.b, '"')
	a.b = append(a.b, s...)
	a.b = append(a.b, '"')
}

// time appends t as a JSON string in timeLayout.
func (a *jsonArray) time(t time.Time) {
	a.sep()
	a.b = append(a.b, '"')
	a.b = t.UTC().AppendFormat(a.b, timeLayout)
	a.b = append(a.b, '"')
}

// plainJSON reports whether s is a JSON string's content as it is:
// printable ASCII without quotes or backslashes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (a *jsonArray) String() string {
	if len(a.b) == 0 {
		return "[]"
	}
	return string(a.b) + "]"
}
