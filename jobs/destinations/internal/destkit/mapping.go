package destkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

// Sources a field template can name.
const (
	srcCustomer = iota
	srcRuleSet
	srcAction
	srcPriority
	srcDueAt
	srcIdempotencyKey
	srcPayload
	srcLiteral
)

var namedSources = map[string]int{
	"customer":        srcCustomer,
	"ruleset":         srcRuleSet,
	"action":          srcAction,
	"priority":        srcPriority,
	"due_at":          srcDueAt,
	"idempotency_key": srcIdempotencyKey,
}

// Field is one compiled entry of a field mapping: a CRM field and where
// its value comes from. Make one with CompileTemplate or CompileFields.
type Field struct {
	name     string
	source   int
	path     []string // payload.a.b -> [a b]
	optional bool     // payload.NAME? leaves the field out when NAME is absent
	literal  string
}

// CompileFields compiles a declared mapping (CRM field -> template) once,
// in field-name order so request bodies are stable. what names the
// mapping in errors ("fields", "task.fields"); every bad entry is
// reported, as what["NAME"]: reason.
func CompileFields(what string, fields map[string]string) ([]Field, error) {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	specs := make([]Field, 0, len(names))
	var errs []string
	for _, name := range names {
		s, err := CompileTemplate(name, fields[name])
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s[%q]: %v", what, name, err))
			continue
		}
		specs = append(specs, s)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return specs, nil
}

// CompileTemplate reads the template tmpl of the field name: customer,
// ruleset, action, priority, due_at, idempotency_key, payload.NAME
// (nested: payload.a.b; payload.NAME? when optional) or =literal.
func CompileTemplate(name, tmpl string) (Field, error) {
	s := Field{name: name}
	if strings.TrimSpace(name) == "" {
		return s, fmt.Errorf("empty field name")
	}
	switch {
	case strings.HasPrefix(tmpl, "="):
		s.source, s.literal = srcLiteral, tmpl[1:]
	case strings.HasPrefix(tmpl, "payload."):
		p := strings.TrimPrefix(tmpl, "payload.")
		if strings.HasSuffix(p, "?") {
			s.optional, p = true, strings.TrimSuffix(p, "?")
		}
		s.source, s.path = srcPayload, strings.Split(p, ".")
		for _, part := range s.path {
			if part == "" {
				return s, fmt.Errorf("template %q: empty payload field name", tmpl)
			}
		}
	default:
		src, ok := namedSources[tmpl]
		if !ok {
			return s, fmt.Errorf("unknown template %q (want customer, ruleset, action, priority, due_at, idempotency_key, payload.NAME or =literal)", tmpl)
		}
		s.source = src
	}
	return s, nil
}

// DecodePayload reads a delivery's payload, keeping numbers exact
// (json.Number); an empty or null payload is an empty object.
func DecodePayload(raw json.RawMessage) (map[string]any, error) {
	out := map[string]any{}
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("payload is not a JSON object: %w", err)
	}
	return out, nil
}

// Name is the CRM field the value is set into.
func (s Field) Name() string { return s.name }

// Value is the field's value for one delivery and its decoded payload;
// ok is false when an optional payload field is absent. A missing
// required payload field is an error naming the field and the path.
func (s Field) Value(d *jobs.Delivery, payload map[string]any) (v any, ok bool, err error) {
	switch s.source {
	case srcCustomer:
		return d.Customer, true, nil
	case srcRuleSet:
		return d.RuleSet, true, nil
	case srcAction:
		return d.Action, true, nil
	case srcPriority:
		return d.Priority, true, nil
	case srcDueAt:
		return d.DueAt.UTC().Format(time.RFC3339), true, nil
	case srcIdempotencyKey:
		return d.IdempotencyKey, true, nil
	case srcLiteral:
		return s.literal, true, nil
	}
	var cur any = payload
	for i, part := range s.path {
		obj, isObj := cur.(map[string]any)
		next, found := obj[part]
		if !isObj || !found {
			if s.optional {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("field %q: payload has no %q", s.name, strings.Join(s.path[:i+1], "."))
		}
		cur = next
	}
	return cur, true, nil
}

// ApplyFields sets every mapped field of one delivery into rec, leaving
// out absent optional ones; it stops at the first error.
func ApplyFields(specs []Field, d *jobs.Delivery, payload map[string]any, rec map[string]any) error {
	for _, s := range specs {
		v, ok, err := s.Value(d, payload)
		if err != nil {
			return err
		}
		if ok {
			rec[s.name] = v
		}
	}
	return nil
}

// Text renders a value as text (a task subject): strings as they are,
// nil as "", anything else as JSON.
func Text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// OrDefault is v, or def when v is empty.
func OrDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
