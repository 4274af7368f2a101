package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Type is the type of a fact.
type Type int

// The fact types a schema can declare.
const (
	TypeNumber  Type = iota + 1 // float64
	TypeInteger                 // int
	TypeString                  // string
	TypeBool                    // bool
	TypeTime                    // time.Time
	TypeDate                    // time.Time at 00:00 UTC of the date
)

var typeNames = map[string]Type{
	"number":  TypeNumber,
	"integer": TypeInteger,
	"string":  TypeString,
	"bool":    TypeBool,
	"time":    TypeTime,
	"date":    TypeDate,
}

// ParseType parses a type name as written in a facts schema.
func ParseType(s string) (Type, bool) {
	t, ok := typeNames[s]
	return t, ok
}

func (t Type) String() string {
	for name, v := range typeNames {
		if v == t {
			return name
		}
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// zero returns the Go zero value expressions see for the type.
func (t Type) zero() any {
	switch t {
	case TypeNumber:
		return float64(0)
	case TypeInteger:
		return int(0)
	case TypeString:
		return ""
	case TypeBool:
		return false
	case TypeTime, TypeDate:
		return time.Time{}
	}
	return nil
}

// Field is one fact rules may read.
type Field struct {
	Name     string
	Type     Type
	Nullable bool
	Label    string
	// Checks holds the data-quality checks the rule file declares on the
	// fact (min, max, one_of, unique, max_null_share); nil when it
	// declares none. Compile validates them; it never runs them.
	Checks *FactChecks
	// Zone is, for a date fact, the rule set's time zone: a time given
	// for the fact that is midnight there is that day (see coerceDate).
	// Compile sets it; nil means UTC.
	Zone *time.Location
	// Derived, for a fact of the rule file's derived: section, says how
	// tierflow computes it before evaluating; nil for a fact the facts
	// source provides.
	Derived *Derivation
	Pos     Pos
}

// Schema is the set of facts a rule set reads, in a fixed order. Engine
// inputs carry fact values in this order.
type Schema struct {
	Fields []Field
	index  map[string]int
}

// NewSchema builds a schema from fields. Names must be unique.
func NewSchema(fields []Field) (*Schema, error) {
	s := &Schema{Fields: fields, index: make(map[string]int, len(fields))}
	for i, f := range fields {
		if _, dup := s.index[f.Name]; dup {
			return nil, fmt.Errorf("fact %q is declared twice", f.Name)
		}
		if !validName(f.Name) {
			return nil, fmt.Errorf("fact name %q is not a valid name (use lower-case letters, digits and _)", f.Name)
		}
		s.index[f.Name] = i
	}
	return s, nil
}

// Lookup returns the field called name and its index.
func (s *Schema) Lookup(name string) (Field, int, bool) {
	i, ok := s.index[name]
	if !ok {
		return Field{}, -1, false
	}
	return s.Fields[i], i, true
}

// hasDates reports whether some fact is a date; false for a nil schema.
func (s *Schema) hasDates() bool {
	if s == nil {
		return false
	}
	for _, f := range s.Fields {
		if f.Type == TypeDate {
			return true
		}
	}
	return false
}

// inZone returns the schema with its date facts in zone (Field.Zone), a
// copy when that changes any, so that a schema shared between rule sets
// is never modified.
func (s *Schema) inZone(zone *time.Location) *Schema {
	if !s.hasDates() {
		return s
	}
	fields := append([]Field(nil), s.Fields...)
	for i := range fields {
		if fields[i].Type == TypeDate {
			fields[i].Zone = zone
		}
	}
	out, err := NewSchema(fields)
	if err != nil { // the same names as s, which is valid
		return s
	}
	return out
}

// Names returns the field names in schema order.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// Zero returns a facts row with every field at its zero value, or null for
// nullable fields.
func (s *Schema) Zero() []any {
	row := make([]any, len(s.Fields))
	for i, f := range s.Fields {
		if !f.Nullable {
			row[i] = f.Type.zero()
		}
	}
	return row
}

// Row converts facts given by name into a row in schema order. Missing
// facts are zero, or null when nullable; unknown names are an error.
func (s *Schema) Row(facts map[string]any) ([]any, error) {
	row := s.Zero()
	for name, v := range facts {
		f, i, ok := s.Lookup(name)
		if !ok {
			msg := fmt.Sprintf("unknown fact %q", name)
			if h := suggest(name, s.Names()); h != "" {
				msg += " (" + h + ")"
			}
			return nil, fmt.Errorf("%s", msg)
		}
		cv, err := f.Coerce(v)
		if err != nil {
			return nil, err
		}
		row[i] = cv
	}
	return row, nil
}

// Coerce converts v to the Go type expressions expect for the field:
// float64, int, string, bool or time.Time (for a date, 00:00 UTC of the
// day), or nil when the field is nullable. It accepts the usual types
// database drivers and decoders produce, such as int64, []byte and date
// strings. A number must be finite: NaN and the infinities are errors.
func (f Field) Coerce(v any) (any, error) {
	if v == nil {
		if f.Nullable {
			return nil, nil
		}
		return nil, fmt.Errorf("fact %q is null but not declared nullable (declare it as %q)", f.Name, f.Type.String()+"?")
	}
	var out any
	var err error
	if f.Type == TypeDate {
		out, err = coerceDate(v, f.Zone)
	} else {
		out, err = coerce(f.Type, v)
	}
	if err != nil {
		return nil, fmt.Errorf("fact %q: %w", f.Name, err)
	}
	if x, ok := out.(float64); ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
		return nil, fmt.Errorf("fact %q: %v is not a finite number", f.Name, x)
	}
	return out, nil
}

func coerce(t Type, v any) (any, error) {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	switch t {
	case TypeNumber:
		switch x := v.(type) {
		case float64:
			return v, nil // as it is: boxing it again would allocate
		case float32:
			return float64(x), nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case int32:
			return float64(x), nil
		case json.Number:
			return x.Float64()
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number", x)
			}
			return f, nil
		}
	case TypeInteger:
		switch x := v.(type) {
		case int:
			return v, nil
		case int64:
			return int(x), nil
		case int32:
			return int(x), nil
		case float64:
			if x != math.Trunc(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("%v is not a whole number", x)
			}
			return int(x), nil
		case json.Number:
			i, err := x.Int64()
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, fmt.Errorf("%q is too large for an integer", x.String())
			}
			if err != nil {
				return nil, fmt.Errorf("%q is not a whole number", x.String())
			}
			return int(i), nil
		case string:
			i, err := strconv.Atoi(strings.TrimSpace(x))
			if err != nil {
				return nil, fmt.Errorf("%q is not a whole number", x)
			}
			return i, nil
		}
	case TypeString:
		switch x := v.(type) {
		case string:
			return v, nil
		case json.Number:
			return x.String(), nil // as written in the JSON
		case int, int64, float64, bool:
			return fmt.Sprint(x), nil
		}
	case TypeBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return nil, fmt.Errorf("%q is not true or false", x)
			}
			return b, nil
		}
	case TypeTime:
		switch x := v.(type) {
		case time.Time:
			if x.Location() == time.UTC {
				return v, nil // as it is: boxing x.UTC() again would allocate
			}
			return x.UTC(), nil
		case string:
			return ParseTime(x)
		}
	}
	return nil, fmt.Errorf("%v (%T) is not a %s", v, v, t)
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07", // PostgreSQL's text output: 2024-06-30 02:00:00+00
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// ParseTime parses a date ("2024-06-30") or a date-time (RFC 3339, with
// or without zone). Times without a zone are UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (use 2024-06-30 or 2024-06-30T02:00:00Z)", s)
}
