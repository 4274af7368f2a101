package postgres

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs/kernel"
)

// stateSQL keeps state rows in typed arrays (text[], timestamptz[],
// bigint[]), 1-based as the layout's positions are: an element past an
// array's end reads as NULL.
var stateSQL = &kernel.StateSQL{
	Elem:  func(expr string, pos int) string { return expr + "[" + strconv.Itoa(pos) + "]" },
	Array: stateArray,
	Later: func(a, b string) string { return "greatest(" + a + ", " + b + ")" }, // greatest ignores NULLs

	// A snapshot reads a customer's state as the text of one text[]
	// (packState), where lib/pq would make a string and its box of every
	// column.
	Pack:      packState,
	Unpack:    unpackState,
	ParseTime: parseTimestamptz,
}

// stateArray is kernel.StateSQL.Array: an array of type typ of elems.
func stateArray(typ kernel.ElemType, elems []string) string {
	cast := arrayTypes[typ]
	if len(elems) == 0 {
		return "'{}'::" + cast
	}
	return "ARRAY[" + strings.Join(elems, ", ") + "]::" + cast
}

// packState is the text of the text[] of elems, each cast to text.
func packState(elems []string) string {
	texts := make([]string, len(elems))
	for i, e := range elems {
		texts[i] = e + "::text"
	}
	return stateArray(kernel.TextElems, texts) + "::text"
}

// unpackState appends to dst the elements of s, the output of a
// one-dimensional text[] (packState), "" for each NULL. PostgreSQL
// writes an element in double quotes, its quotes and backslashes
// escaped by a backslash, when it is empty, holds a quote, backslash,
// brace, comma or white space, or reads NULL in any case; a NULL element
// as NULL, unquoted and in capitals. The elements are parts of s, but
// for escaped ones.
func unpackState(dst []string, s string) ([]string, error) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return dst, fmt.Errorf("%.40q is not the text of an array", s)
	}
	body := s[1 : len(s)-1]
	if body == "" {
		return dst, nil
	}
	for i := 0; ; {
		var elem string
		if body[i] == '"' {
			j, escaped := i+1, false
			for ; j < len(body) && body[j] != '"'; j++ {
				if body[j] == '\\' {
					escaped = true
					j++
				}
			}
			if j >= len(body) {
				return dst, fmt.Errorf("%.40q: a quoted element does not end", s)
			}
			if elem = body[i+1 : j]; escaped {
				elem = unescapeElem(elem)
			}
			i = j + 1
		} else {
			j := strings.IndexByte(body[i:], ',')
			if j < 0 {
				j = len(body) - i
			}
			if elem = body[i : i+j]; elem == "NULL" {
				elem = ""
			}
			i += j
		}
		dst = append(dst, elem)
		if i == len(body) {
			return dst, nil
		}
		if body[i] != ',' {
			return dst, fmt.Errorf("%.40q: %q after an element, where a comma was expected", s, body[i])
		}
		i++
		if i == len(body) {
			return dst, fmt.Errorf("%.40q: the text ends after a comma", s)
		}
	}
}

// unescapeElem removes the backslashes of a quoted array element.
func unescapeElem(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// arrayTypes are the array types of the state rows' elements.
var arrayTypes = map[kernel.ElemType]string{kernel.TextElems: "text[]", kernel.TimeElems: "timestamptz[]", kernel.IntElems: "bigint[]"}

// stateArrays are a kernel.StateChange's arrays as COPY takes them: array
// literals, in the order of the staging table's st_ columns.
func stateArrays(c *kernel.StateChange, run int64) [6]string {
	var segs, since, pending, reasons, runs, acts pgArray
	id := strconv.FormatInt(run, 10)
	for i, set := range c.Set {
		switch {
		case !set:
			segs.null()
			since.null()
			pending.null()
			reasons.null()
			runs.null()
		case c.Segments[i] == "": // a leave: no dates, reason or run
			segs.text("")
			since.null()
			pending.null()
			reasons.null()
			runs.null()
		default:
			segs.text(c.Segments[i])
			since.time(c.Since[i])
			pending.time(c.PendingSince[i])
			reasons.text(c.Reasons[i])
			runs.raw(id)
		}
	}
	for _, t := range c.ActionAt {
		acts.time(t)
	}
	return [6]string{segs.String(), since.String(), pending.String(), reasons.String(), runs.String(), acts.String()}
}

// pgArray builds the text of an array literal.
type pgArray struct{ b []byte }

func (a *pgArray) raw(s string) {
	if len(a.b) == 0 {
		a.b = append(a.b, '{')
	} else {
		a.b = append(a.b, ',')
	}
	a.b = append(a.b, s...)
}

func (a *pgArray) null() { a.raw("NULL") }

// text appends s double-quoted, its quotes and backslashes escaped.
func (a *pgArray) text(s string) {
	a.raw(`"`)
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			a.b = append(a.b, '\\')
		}
		a.b = append(a.b, s[i])
	}
	a.b = append(a.b, '"')
}

// time appends t, NULL for the zero time.
func (a *pgArray) time(t time.Time) {
	if t.IsZero() {
		a.null()
		return
	}
	a.raw(`"`)
	a.b = t.UTC().AppendFormat(a.b, "2006-01-02 15:04:05.999999Z07:00")
	a.b = append(a.b, '"')
}

func (a *pgArray) String() string {
	if len(a.b) == 0 {
		return "{}"
	}
	return string(a.b) + "}"
}
