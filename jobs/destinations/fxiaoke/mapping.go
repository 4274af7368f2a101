package fxiaoke

// This file is kept identical (but for the package clause) in
// jobs/destinations/zoho; it belongs in a shared package once one exists.

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

// fieldSpec is one compiled entry of a field mapping: a CRM field and
// where its value comes from.
type fieldSpec struct {
	name     string
	source   int
	path     []string // payload.a.b -> [a b]
	optional bool     // payload.NAME? leaves the field out when NAME is absent
	literal  string
}

// compileFields compiles a declared mapping (CRM field -> template) once,
// in field-name order so request bodies are stable.
func compileFields(what string, fields map[string]string) ([]fieldSpec, error) {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	specs := make([]fieldSpec, 0, len(names))
	var errs []string
	for _, name := range names {
		s, err := compileTemplate(name, fields[name])
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

// compileTemplate reads one template: customer, ruleset, action, priority,
// due_at, idempotency_key, payload.NAME (payload.NAME? when optional) or
// =literal.
func compileTemplate(name, tmpl string) (fieldSpec, error) {
	s := fieldSpec{name: name}
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

// decodePayload reads a delivery's payload, keeping numbers exact.
func decodePayload(raw json.RawMessage) (map[string]any, error) {
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

// value is the spec's value for one delivery; ok is false when an
// optional payload field is absent.
func (s fieldSpec) value(d *jobs.Delivery, payload map[string]any) (v any, ok bool, err error) {
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

// applyFields sets every mapped field of one delivery into rec.
func applyFields(specs []fieldSpec, d *jobs.Delivery, payload map[string]any, rec map[string]any) error {
	for _, s := range specs {
		v, ok, err := s.value(d, payload)
		if err != nil {
			return err
		}
		if ok {
			rec[s.name] = v
		}
	}
	return nil
}

// text renders a value as text (a task subject).
func text(v any) string {
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
