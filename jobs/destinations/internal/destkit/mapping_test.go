package destkit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

func testDelivery() *jobs.Delivery {
	return &jobs.Delivery{
		IdempotencyKey: "ik-1", RuleSet: "retail", Action: "winback_call", Customer: "c-1", Priority: 2,
		DueAt: time.Date(2025, 3, 10, 9, 0, 0, 0, time.FixedZone("CET", 3600)),
	}
}

func TestCompileTemplateAndValue(t *testing.T) {
	d := testDelivery()
	payload, err := DecodePayload(json.RawMessage(`{"segment":"at_risk","facts":{"spend":1234.50},"n":null}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tmpl   string
		want   string // JSON of the value
		absent bool
	}{
		{"customer", `"c-1"`, false},
		{"ruleset", `"retail"`, false},
		{"action", `"winback_call"`, false},
		{"priority", `2`, false},
		{"due_at", `"2025-03-10T08:00:00Z"`, false},
		{"idempotency_key", `"ik-1"`, false},
		{"=tierflow", `"tierflow"`, false},
		{"=", `""`, false},
		{"payload.segment", `"at_risk"`, false},
		{"payload.facts.spend", `1234.50`, false},
		{"payload.n", `null`, false},
		{"payload.nickname?", ``, true},
		{"payload.facts.spend?", `1234.50`, false},
	} {
		f, err := CompileTemplate("F", tc.tmpl)
		if err != nil {
			t.Fatalf("CompileTemplate(%q) = %v", tc.tmpl, err)
		}
		if f.Name() != "F" {
			t.Errorf("Name() = %q", f.Name())
		}
		v, ok, err := f.Value(d, payload)
		if err != nil || ok == tc.absent {
			t.Fatalf("%q: Value = %v, %v, %v", tc.tmpl, v, ok, err)
		}
		if tc.absent {
			continue
		}
		if b, _ := json.Marshal(v); string(b) != tc.want {
			t.Errorf("%q: value %s, want %s", tc.tmpl, b, tc.want)
		}
	}
}

func TestValueMissingPayloadField(t *testing.T) {
	f, err := CompileTemplate("Spend", "payload.facts.spend")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{`{}`, `{"facts":{}}`, `{"facts":3}`} {
		payload, _ := DecodePayload(json.RawMessage(raw))
		_, ok, err := f.Value(testDelivery(), payload)
		if ok || err == nil || !strings.HasPrefix(err.Error(), `field "Spend": payload has no "facts`) {
			t.Errorf("%s: ok %v err %v, want a missing-field error", raw, ok, err)
		}
	}
}

func TestCompileTemplateRejects(t *testing.T) {
	for _, tc := range []struct{ name, tmpl, want string }{
		{"", "customer", "empty field name"},
		{" ", "customer", "empty field name"},
		{"F", "payload.", "empty payload field name"},
		{"F", "payload.a..b", "empty payload field name"},
		{"F", "segment", `unknown template "segment"`},
		{"F", "", `unknown template ""`},
	} {
		if _, err := CompileTemplate(tc.name, tc.tmpl); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CompileTemplate(%q, %q) = %v, want %q", tc.name, tc.tmpl, err, tc.want)
		}
	}
}

func TestCompileFields(t *testing.T) {
	specs, err := CompileFields("fields", map[string]string{"b": "action", "a": "customer", "c": "=x"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name())
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("order = %v, want sorted by field name", names)
	}
	_, err = CompileFields("task.fields", map[string]string{"X": "payload.", "Y": "nope", "Z": "customer"})
	if err == nil || !strings.Contains(err.Error(), `task.fields["X"]: template "payload."`) ||
		!strings.Contains(err.Error(), `task.fields["Y"]: unknown template "nope"`) || strings.Contains(err.Error(), `"Z"`) {
		t.Errorf("err = %v, want both bad entries named", err)
	}
	if specs, err := CompileFields("fields", nil); err != nil || len(specs) != 0 {
		t.Errorf("empty mapping = %v, %v", specs, err)
	}
}

func TestDecodePayload(t *testing.T) {
	for _, raw := range []string{``, `  `, `null`, ` null `} {
		p, err := DecodePayload(json.RawMessage(raw))
		if err != nil || p == nil || len(p) != 0 {
			t.Errorf("DecodePayload(%q) = %v, %v, want an empty object", raw, p, err)
		}
	}
	p, err := DecodePayload(json.RawMessage(`{"n":12345678901234567890}`))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := p["n"].(json.Number); !ok || n.String() != "12345678901234567890" {
		t.Errorf("n = %#v, want the exact json.Number", p["n"])
	}
	for _, raw := range []string{`[1]`, `"x"`, `{`} {
		if _, err := DecodePayload(json.RawMessage(raw)); err == nil || !strings.Contains(err.Error(), "payload is not a JSON object") {
			t.Errorf("DecodePayload(%q) = %v, want an error", raw, err)
		}
	}
}

func TestApplyFields(t *testing.T) {
	specs, err := CompileFields("fields", map[string]string{"A": "action", "N": "payload.nick?", "S": "payload.segment"})
	if err != nil {
		t.Fatal(err)
	}
	rec := map[string]any{"keep": 1}
	if err := ApplyFields(specs, testDelivery(), map[string]any{"segment": "vip"}, rec); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(rec); string(b) != `{"A":"winback_call","S":"vip","keep":1}` {
		t.Errorf("rec = %s", b)
	}
	if err := ApplyFields(specs, testDelivery(), map[string]any{}, map[string]any{}); err == nil ||
		err.Error() != `field "S": payload has no "segment"` {
		t.Errorf("err = %v, want the missing field named", err)
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{"call back", "call back"},
		{nil, ""},
		{json.Number("3"), "3"},
		{2, "2"},
		{true, "true"},
		{map[string]any{"a": 1}, `{"a":1}`},
		{func() {}, "0x"}, // not JSON: fmt's rendering (a pointer)
	} {
		if got := Text(tc.in); !strings.HasPrefix(got, tc.want) || (tc.want != "0x" && got != tc.want) {
			t.Errorf("Text(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOrDefault(t *testing.T) {
	if OrDefault("", "d") != "d" || OrDefault("v", "d") != "v" {
		t.Fatal("OrDefault")
	}
}
