package rules_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/rules"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"30d", 30 * day, ""},
		{"0d", 0, ""},
		{"2w", 14 * day, ""},
		{" 7d ", 7 * day, ""},
		{"36h", 36 * time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"36600d", 36600 * day, ""},
		{"36601d", 0, "longer than a hundred years"},
		{"100000w", 0, "longer than a hundred years"},
		{"", 0, "is not a duration (write 30d, 2w or 12h)"},
		{"d", 0, "is not a duration"},
		{"-1d", 0, "is not a duration"},
		{"-5h", 0, "is not a duration"},
		{"1y", 0, "is not a duration"},
		{"1.5d", 0, "is not a duration"},
		{"30 days", 0, "is not a duration"},
		{"30", 0, "is not a duration"},
	}
	for _, tt := range tests {
		got, err := rules.ParseDuration(tt.in)
		switch {
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseDuration(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0d"},
		{24 * time.Hour, "1d"},
		{30 * 24 * time.Hour, "30d"},
		{14 * 24 * time.Hour, "14d"},
		{36 * time.Hour, "36h0m0s"},
		{90 * time.Minute, "1h30m0s"},
	}
	for _, tt := range tests {
		got := rules.FormatDuration(tt.in)
		if got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := rules.ParseDuration(got)
		if err != nil || back != tt.in {
			t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v; want it back", tt.in, back, err)
		}
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		in   string
		want time.Time // zero: an error is expected
	}{
		{"2024-06-30", utc("2024-06-30T00:00:00Z")},
		{" 2024-06-30 ", utc("2024-06-30T00:00:00Z")},
		{"2024-06-30T02:00:00Z", utc("2024-06-30T02:00:00Z")},
		{"2024-06-30T02:00:00+02:00", utc("2024-06-30T00:00:00Z")},
		{"2024-06-30T02:00:00.125Z", utc("2024-06-30T02:00:00.125Z")},
		{"2024-06-30T02:00:00", utc("2024-06-30T02:00:00Z")},
		{"2024-06-30 02:00:00", utc("2024-06-30T02:00:00Z")},
		{"2024-06-30 08:00:00+08:00", utc("2024-06-30T00:00:00Z")},
		{"30/06/2024", time.Time{}},
		{"2024-13-01", time.Time{}},
		{"", time.Time{}},
		{"yesterday", time.Time{}},
	}
	for _, tt := range tests {
		got, err := rules.ParseTime(tt.in)
		if tt.want.IsZero() {
			if err == nil || !strings.Contains(err.Error(), "is not a date (use 2024-06-30 or 2024-06-30T02:00:00Z)") {
				t.Errorf("ParseTime(%q) = %v, %v; want an error", tt.in, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v in UTC", tt.in, got, err, tt.want)
		}
	}
}

func TestParseType(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"number", "integer", "string", "bool", "time", "date"} {
		typ, ok := rules.ParseType(name)
		if !ok || typ.String() != name {
			t.Errorf("ParseType(%q) = %v, %v", name, typ, ok)
		}
	}
	for _, name := range []string{"", "Number", "int", "float", "Date", "datetime", "time?"} {
		if typ, ok := rules.ParseType(name); ok {
			t.Errorf("ParseType(%q) = %v, want not ok", name, typ)
		}
	}
	if got := rules.Type(99).String(); got != "Type(99)" {
		t.Errorf("Type(99).String() = %q", got)
	}
}

func TestFieldCoerce(t *testing.T) {
	t.Parallel()
	shanghai := time.FixedZone("CST", 8*3600)
	tests := []struct {
		typ      rules.Type
		nullable bool
		in       any
		want     any
		wantErr  string
	}{
		{rules.TypeNumber, false, 1.5, 1.5, ""},
		{rules.TypeNumber, false, float32(0.25), 0.25, ""},
		{rules.TypeNumber, false, 3, 3.0, ""},
		{rules.TypeNumber, false, int64(1) << 40, float64(int64(1) << 40), ""},
		{rules.TypeNumber, false, int32(-7), -7.0, ""},
		{rules.TypeNumber, false, json.Number("2.5"), 2.5, ""},
		{rules.TypeNumber, false, " 7 ", 7.0, ""},
		{rules.TypeNumber, false, []byte("12.75"), 12.75, ""},
		{rules.TypeNumber, false, "abc", nil, `fact "f": "abc" is not a number`},
		{rules.TypeNumber, false, true, nil, `fact "f": true (bool) is not a number`},
		{rules.TypeInteger, false, 5, 5, ""},
		{rules.TypeInteger, false, int64(5), 5, ""},
		{rules.TypeInteger, false, int32(5), 5, ""},
		{rules.TypeInteger, false, 3.0, 3, ""},
		{rules.TypeInteger, false, 3.5, nil, "3.5 is not a whole number"},
		{rules.TypeInteger, false, math.Inf(1), nil, "is not a whole number"},
		{rules.TypeInteger, false, json.Number("42"), 42, ""},
		{rules.TypeInteger, false, "12", 12, ""},
		{rules.TypeInteger, false, []byte("12"), 12, ""},
		{rules.TypeInteger, false, "1.5", nil, `"1.5" is not a whole number`},
		{rules.TypeString, false, "x", "x", ""},
		{rules.TypeString, false, []byte("门店"), "门店", ""},
		{rules.TypeString, false, 12, "12", ""},
		{rules.TypeString, false, int64(12), "12", ""},
		{rules.TypeString, false, 1.5, "1.5", ""},
		{rules.TypeString, false, true, "true", ""},
		{rules.TypeString, false, []string{"a"}, nil, "is not a string"},
		{rules.TypeBool, false, true, true, ""},
		{rules.TypeBool, false, "false", false, ""},
		{rules.TypeBool, false, []byte("true"), true, ""},
		{rules.TypeBool, false, "yes", nil, `"yes" is not true or false`},
		{rules.TypeBool, false, 1, nil, "1 (int) is not a bool"},
		{rules.TypeTime, false, time.Date(2024, 6, 30, 8, 0, 0, 0, shanghai), time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), ""},
		{rules.TypeTime, false, "2024-06-30", time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), ""},
		{rules.TypeTime, false, []byte("2024-06-30T01:02:03Z"), time.Date(2024, 6, 30, 1, 2, 3, 0, time.UTC), ""},
		{rules.TypeTime, false, 1719705600, nil, "is not a time"},
		{rules.TypeTime, true, nil, nil, ""},
		{rules.TypeNumber, true, nil, nil, ""},
		{rules.TypeTime, false, nil, nil, `fact "f" is null but not declared nullable (declare it as "time?")`},
		{rules.TypeNumber, false, nil, nil, `declare it as "number?"`},
	}
	for _, tt := range tests {
		f := rules.Field{Name: "f", Type: tt.typ, Nullable: tt.nullable}
		got, err := f.Coerce(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v.Coerce(%#v) = %#v, %v; want an error containing %q", tt.typ, tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v.Coerce(%#v): %v", tt.typ, tt.in, err)
			continue
		}
		if !sameValue(got, tt.want) {
			t.Errorf("%v.Coerce(%#v) = %#v (%T), want %#v (%T)", tt.typ, tt.in, got, got, tt.want, tt.want)
		}
	}
}

// sameValue compares values by type and value, times by instant and zone.
func sameValue(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb) && ta.Location() == tb.Location()
	}
	return a == b
}

func TestSchemaRow(t *testing.T) {
	t.Parallel()
	schema, err := rules.NewSchema([]rules.Field{
		{Name: "spend", Type: rules.TypeNumber},
		{Name: "orders", Type: rules.TypeInteger},
		{Name: "last_order_at", Type: rules.TypeTime, Nullable: true},
		{Name: "channel", Type: rules.TypeString},
		{Name: "vip", Type: rules.TypeBool, Nullable: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(schema.Names(), ","); got != "spend,orders,last_order_at,channel,vip" {
		t.Errorf("Names() = %s", got)
	}
	if f, i, ok := schema.Lookup("channel"); !ok || i != 3 || f.Type != rules.TypeString {
		t.Errorf("Lookup(channel) = %+v, %d, %v", f, i, ok)
	}
	if _, i, ok := schema.Lookup("nope"); ok || i != -1 {
		t.Errorf("Lookup(nope) = %d, %v; want -1, false", i, ok)
	}

	row, err := schema.Row(map[string]any{"orders": int64(3), "channel": []byte("store")})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{0.0, 3, nil, "store", nil}
	for i := range want {
		if !sameValue(row[i], want[i]) {
			t.Errorf("row[%d] = %#v, want %#v (row %#v)", i, row[i], want[i], row)
		}
	}
	zero := schema.Zero()
	for i, w := range []any{0.0, 0, nil, "", nil} {
		if !sameValue(zero[i], w) {
			t.Errorf("Zero()[%d] = %#v, want %#v", i, zero[i], w)
		}
	}

	_, err = schema.Row(map[string]any{"spnd": 1})
	if err == nil || err.Error() != `unknown fact "spnd" (did you mean "spend"?)` {
		t.Errorf("Row(spnd) error = %v", err)
	}
	_, err = schema.Row(map[string]any{"region": 1})
	if err == nil || err.Error() != `unknown fact "region"` {
		t.Errorf("Row(region) error = %v", err)
	}
	_, err = schema.Row(map[string]any{"orders": "many"})
	if err == nil || err.Error() != `fact "orders": "many" is not a whole number` {
		t.Errorf("Row(orders: many) error = %v", err)
	}
	_, err = schema.Row(map[string]any{"channel": nil})
	if err == nil || !strings.Contains(err.Error(), `fact "channel" is null but not declared nullable`) {
		t.Errorf("Row(channel: nil) error = %v", err)
	}
}

func TestNewSchemaErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fields []rules.Field
		want   string
	}{
		{[]rules.Field{{Name: "a", Type: rules.TypeNumber}, {Name: "a", Type: rules.TypeString}}, `fact "a" is declared twice`},
		{[]rules.Field{{Name: "Spend", Type: rules.TypeNumber}}, `fact name "Spend" is not a valid name`},
		{[]rules.Field{{Name: "", Type: rules.TypeNumber}}, `fact name "" is not a valid name`},
	}
	for _, tt := range tests {
		_, err := rules.NewSchema(tt.fields)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewSchema(%v) error = %v, want %q", tt.fields, err, tt.want)
		}
	}
}

func TestParseTimeExportFormats(t *testing.T) {
	want := time.Date(2024, 6, 30, 2, 0, 0, 0, time.UTC)
	for _, s := range []string{
		"2024-06-30T02:00:00Z", "2024-06-30T10:00:00+08:00", "2024-06-30 02:00:00+00", "2024-06-30 04:00:00+02",
		"2024-06-30 02:00:00.000000+00", "2024-06-30 02:00:00", "2024-06-30T02:00:00", "2024-06-30 02:00:00Z",
	} {
		got, err := rules.ParseTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
}

// A time fact is in UTC whatever zone the driver gave it, and one
// already in UTC is passed on as it is, without boxing it again (two
// allocations per customer in a full apply on PostgreSQL).
func TestCoerceTimeToUTC(t *testing.T) {
	f := rules.Field{Name: "at", Type: rules.TypeTime}
	at := time.Date(2024, 6, 30, 23, 30, 0, 0, time.FixedZone("+08", 8*3600))
	got, err := f.Coerce(at)
	if err != nil || got != any(at.UTC()) || got.(time.Time).Location() != time.UTC {
		t.Errorf("Coerce(%v) = %v, %v; want %v in UTC", at, got, err, at.UTC())
	}
	var v any = at.UTC()
	if allocs := testing.AllocsPerRun(100, func() { got, err = f.Coerce(v) }); allocs != 0 || err != nil || got != v {
		t.Errorf("Coerce of a UTC time = %v, %v, %v allocations; want it as it is, none", got, err, allocs)
	}
}
