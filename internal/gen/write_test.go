package gen_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/internal/gen"
	"github.com/tierflow/tierflow/rules"
)

// fromStrings rebuilds a customer from the text of its fields, as a
// reader of the files would, with the rules package's own parsing.
func fromStrings(t *testing.T, f map[string]string) gen.Customer {
	t.Helper()
	num := func(name string) float64 {
		v, err := strconv.ParseFloat(f[name], 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	tm := func(name string) time.Time {
		if f[name] == "" {
			return time.Time{}
		}
		v, err := rules.ParseTime(f[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	return gen.Customer{
		ID: int64(num("customer_id")), Spend12m: num("spend_12m"), SpendPrev12m: num("spend_prev_12m"),
		Orders12m: int(num("orders_12m")), FirstOrderAt: tm("first_order_at"), LastOrderAt: tm("last_order_at"),
		Channel: f["channel"], Region: f["region"],
	}
}

func TestCSVRoundTrip(t *testing.T) {
	t.Parallel()
	cfg := gen.Config{Customers: 3000, Seed: 5, AsOf: asOf}
	want := retail(t, cfg)
	g, _ := gen.Retail(cfg)
	var buf bytes.Buffer
	n, err := gen.WriteCSV(&buf, g)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("WriteCSV: %d rows, %v", n, err)
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := strings.Join(records[0], ",")
	if header != "customer_id,spend_12m,spend_prev_12m,orders_12m,first_order_at,last_order_at,channel,region" {
		t.Fatalf("header: %s", header)
	}
	if len(records) != len(want)+1 {
		t.Fatalf("%d records, want %d and a header", len(records)-1, len(want))
	}
	nulls := 0
	for i, rec := range records[1:] {
		f := map[string]string{}
		for j, name := range records[0] {
			f[name] = rec[j]
		}
		if f["last_order_at"] == "" {
			nulls++
		}
		if got := fromStrings(t, f); got != want[i] {
			t.Fatalf("line %d:\n got %+v\nwant %+v", i+2, got, want[i])
		}
	}
	if nulls == 0 {
		t.Error("no null last_order_at in 3000 customers")
	}
}

func TestJSONLRoundTrip(t *testing.T) {
	t.Parallel()
	cfg := gen.Config{Customers: 3000, Seed: 5, AsOf: asOf}
	want := retail(t, cfg)
	g, _ := gen.Retail(cfg)
	var buf bytes.Buffer
	if n, err := gen.WriteJSONL(&buf, g); err != nil || n != int64(len(want)) {
		t.Fatalf("WriteJSONL: %d rows, %v", n, err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i, line := range lines {
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		if len(obj) != len(gen.RetailColumns) {
			t.Fatalf("line %d has %d keys: %s", i+1, len(obj), line)
		}
		f := map[string]string{}
		for k, v := range obj {
			switch v := v.(type) {
			case json.Number:
				f[k] = v.String()
			case string:
				f[k] = v
			case nil:
			default:
				t.Fatalf("line %d: %s is a %T", i+1, k, v)
			}
		}
		if got := fromStrings(t, f); got != want[i] {
			t.Fatalf("line %d:\n got %+v\nwant %+v", i+1, got, want[i])
		}
	}
}
