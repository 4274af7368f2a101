package factsfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// problemKind says what is wrong with a row or one of its values.
type problemKind int

// badRow and badNoKey make a row unusable as a customer, and are fatal
// for a pass; the others are one fact's, and become the customer's
// engine.FactError.
const (
	badRow    problemKind = iota // the row cannot be decoded, or has no usable key
	badNoKey                     // the row lacks the key column
	badAbsent                    // a non-nullable fact's column is missing
	badNull                      // a non-nullable fact is empty or null
	badType                      // a value does not convert to its fact's type
)

// problem is one thing wrong with a row.
type problem struct {
	kind  problemKind
	field rules.Field // the fact, but for badRow
	raw   any         // the value as read, but for badRow
	msg   string      // for badRow
}

// fields returns rs's facts; a rule set without a schema has none.
func fields(rs *rules.RuleSet) []rules.Field {
	if rs.Facts == nil {
		return nil
	}
	return rs.Facts.Fields
}

// names lists the columns a pass reads: the key, then every fact.
func names(rs *rules.RuleSet) []string {
	out := []string{rs.Key}
	for _, f := range fields(rs) {
		out = append(out, f.Name)
	}
	return out
}

// scan decodes every row of f as a customer of rs and calls fn with it and
// what is wrong with it; a row that cannot be decoded comes with an empty
// customer. A row whose only problems are with values (no fatal one)
// comes with them as the customer's FactErrors, and null facts for them.
func scan(ctx context.Context, f file, rs *rules.RuleSet, fn func(line int, c engine.Customer, bad []problem) error) error {
	d, err := open(f)
	if err != nil {
		return err
	}
	defer d.Close()
	cols := names(rs)
	d.bind(cols)
	vals := make([]any, len(cols))
	for {
		line, err := d.next(vals)
		var le lineError
		switch {
		case err == nil:
			if err := ctx.Err(); err != nil {
				return err
			}
			c, bad := customer(rs, vals, f.csv())
			if !anyFatal(bad) {
				c.FactErrors = factErrors(f, line, bad)
			}
			err = fn(line, c, bad)
		case errors.As(err, &le):
			err = fn(line, engine.Customer{}, []problem{{kind: badRow, msg: string(le)}})
		case errors.Is(err, io.EOF):
			return nil
		default:
			return fmt.Errorf("%s: %w", f.path, err)
		}
		if err != nil {
			return err
		}
	}
}

// customer converts one row's values (the key, then rs's facts) to a
// customer, and says what is wrong with it.
func customer(rs *rules.RuleSet, vals []any, text bool) (engine.Customer, []problem) {
	fs := fields(rs)
	c := engine.Customer{Facts: make([]any, len(fs))}
	var bad []problem
	key, p := keyOf(rs.Key, vals[0], text)
	if p != nil {
		bad = append(bad, *p)
	}
	c.Key = key
	for i, f := range fs {
		v, p := value(f, vals[i+1], text)
		if p != nil {
			bad = append(bad, *p)
			continue
		}
		c.Facts[i] = v
	}
	return c, bad
}

// keyOf reads a customer key: CSV text, or a JSON string or number.
func keyOf(name string, v any, text bool) (string, *problem) {
	bad := func(kind problemKind, format string, args ...any) (string, *problem) {
		return "", &problem{kind: kind, msg: fmt.Sprintf(format, args...)}
	}
	col := column(text)
	switch k := v.(type) {
	case string:
		if k == "" {
			return bad(badRow, "the key %s %q is empty", col, name)
		}
		return k, nil
	case json.Number:
		return k.String(), nil
	case nil:
		return bad(badRow, "the key %s %q is null", col, name)
	}
	if v == absent {
		return bad(badNoKey, "no key %s %q", col, name)
	}
	return bad(badRow, "the key %s %q is %s: use a string or a number", col, name, display(v))
}

// value converts one raw value to its fact's type. In CSV an empty cell
// is null, except for a string fact that is not nullable; so is a cell of
// only spaces for a fact that is not text, as FactsSchema sees it.
func value(f rules.Field, raw any, text bool) (any, *problem) {
	if raw == absent {
		if f.Nullable {
			return nil, nil
		}
		return nil, &problem{kind: badAbsent, field: f, raw: raw}
	}
	v := raw
	if s, ok := v.(string); ok && text && (s == "" && f.Nullable || f.Type != rules.TypeString && strings.TrimSpace(s) == "") {
		v = nil
	}
	out, err := f.Coerce(v)
	if err != nil {
		kind := badType
		if v == nil {
			kind = badNull
		}
		return nil, &problem{kind: kind, field: f, raw: raw}
	}
	return out, nil
}

// fatal reports whether p makes its row unusable as a customer: the row
// cannot be decoded, or has no usable key.
func (p problem) fatal() bool { return p.kind == badRow || p.kind == badNoKey }

// anyFatal reports whether a row with the problems bad is no customer.
func anyFatal(bad []problem) bool {
	for _, p := range bad {
		if p.fatal() {
			return true
		}
	}
	return false
}

// factErrors turns the problems of a customer's values into its fact
// errors, each naming the raw value and f:line; nil when there are none.
func factErrors(f file, line int, bad []problem) []engine.FactError {
	if len(bad) == 0 {
		return nil
	}
	out := make([]engine.FactError, len(bad))
	for i, p := range bad {
		out[i] = engine.FactError{Fact: p.field.Name, Err: fmt.Errorf("%s (%s:%d)", p.reason(f.csv()), f.path, line)}
	}
	return out
}

// reason says what is wrong with a value, for the customer's fact error,
// which names the fact already.
func (p problem) reason(text bool) string {
	switch p.kind {
	case badAbsent:
		return fmt.Sprintf("no %s %q, and the fact is not nullable (declare it %s?)", column(text), p.field.Name, p.field.Type)
	case badNull:
		what := "the value is null"
		switch {
		case text && p.raw == "":
			what = "the cell is empty"
		case text:
			what = "the cell is blank: " + display(p.raw)
		}
		return fmt.Sprintf("%s, but the fact is not nullable (declare it %s?)", what, p.field.Type)
	}
	switch {
	case p.field.Type == rules.TypeNumber && nonFinite(p.raw):
		return display(p.raw) + " is not a finite number"
	case p.field.Type == rules.TypeTime:
		return display(p.raw) + " is not a date (use 2024-06-30 or 2024-06-30T02:00:00Z)"
	case p.field.Type == rules.TypeDate:
		return display(p.raw) + " " + dateWords(p.raw)
	}
	return display(p.raw) + " is not " + typeWords(p.field.Type)
}

// dateWords says why raw is no value of a date fact: a date-time that is
// not a midnight has a time of day, which is never cut off.
func dateWords(raw any) string {
	if s, ok := raw.(string); ok {
		if _, err := rules.ParseTime(s); err == nil {
			return "has a time of day, but the fact is a date (write the day alone, 2024-06-30, or declare the fact time)"
		}
	}
	return "is not a date (use 2024-06-30)"
}

// nonFinite reports whether raw is the text of NaN or an infinity, or of
// a number too large for a float64.
func nonFinite(raw any) bool {
	var s string
	switch x := raw.(type) {
	case string:
		s = x
	case json.Number:
		s = x.String()
	default:
		return false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return (err == nil || errors.Is(err, strconv.ErrRange)) && (math.IsNaN(v) || math.IsInf(v, 0))
}

// short says what is wrong in a line of a bad-row report.
func (p problem) short(text bool) string {
	col := column(text)
	switch p.kind {
	case badAbsent:
		return fmt.Sprintf("no %s %q (fact %q is not nullable)", col, p.field.Name, p.field.Name)
	case badNull:
		return fmt.Sprintf("%s %s is %s, but fact %q is not nullable", col, p.field.Name, emptyWord(text), p.field.Name)
	case badType:
		return fmt.Sprintf("%s %s: %s is not %s", col, p.field.Name, display(p.raw), typeWords(p.field.Type))
	}
	return p.msg
}

// fix says what is wrong and how to fix it, for check.
func (p problem) fix(text bool) string {
	col := column(text)
	switch p.kind {
	case badAbsent:
		return fmt.Sprintf("no %s %q, and fact %q is not nullable: add it to every object, or declare the fact %s? in the rule file", col, p.field.Name, p.field.Name, p.field.Type)
	case badNull:
		return fmt.Sprintf("%s %s is %s, but fact %q is not nullable: fill it in the export, or declare the fact %s? in the rule file", col, p.field.Name, emptyWord(text), p.field.Name, p.field.Type)
	case badType:
		return fmt.Sprintf("%s %s holds %s, which is not %s: fix the export, or change the type of fact %q (%s) in the rule file", col, p.field.Name, display(p.raw), typeWords(p.field.Type), p.field.Name, p.field.Type)
	}
	return p.msg + ": fix the export"
}

// rowMessage joins what is wrong with one row.
func rowMessage(f file, bad []problem) string {
	msgs := make([]string, len(bad))
	for i, p := range bad {
		msgs[i] = p.short(f.csv())
	}
	return strings.Join(msgs, "; ")
}

func column(text bool) string {
	if text {
		return "column"
	}
	return "field"
}

func emptyWord(text bool) string {
	if text {
		return "empty"
	}
	return "null"
}

func typeWords(t rules.Type) string {
	switch t {
	case rules.TypeNumber:
		return "a number"
	case rules.TypeInteger:
		return "a whole number"
	case rules.TypeBool:
		return "true or false"
	case rules.TypeTime:
		return "a date or date-time (2024-06-30, 2024-06-30T02:00:00Z)"
	case rules.TypeDate:
		return "a date (2024-06-30)"
	case rules.TypeString:
		return "text"
	}
	return t.String()
}

// maxShown is how much of a value a message quotes.
const maxShown = 60

// display renders a raw value for a message, shortened.
func display(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		return strconv.Quote(shorten(x))
	case json.Number:
		s = x.String()
	case nil:
		s = "null"
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		s = string(b)
	}
	return shorten(s)
}

// shorten cuts s to maxShown bytes, on a character boundary.
func shorten(s string) string {
	if len(s) <= maxShown {
		return s
	}
	n := maxShown
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
