package factsfile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
)

// factErrors renders a customer's fact errors as "fact: message", with
// the directory dir written DIR.
func factErrors(c engine.Customer, dir string) []string {
	var out []string
	for _, fe := range c.FactErrors {
		out = append(out, fe.Fact+": "+strings.ReplaceAll(fe.Err.Error(), dir, "DIR"))
	}
	return out
}

// customerWant is what a test expects of one customer handed out.
type customerWant struct {
	key    string
	facts  []any
	errors []string // factErrors
}

func checkCustomers(t *testing.T, got []engine.Customer, dir string, want []customerWant) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d customers %q, want %d", len(got), keys(got), len(want))
	}
	for i, w := range want {
		c := got[i]
		if c.Key != w.key || !reflect.DeepEqual(c.Facts, w.facts) || !reflect.DeepEqual(factErrors(c, dir), w.errors) {
			t.Errorf("customer %d:\n got %s %#v %q\nwant %s %#v %q", i, c.Key, c.Facts, factErrors(c, dir), w.key, w.facts, w.errors)
		}
	}
}

// A value that does not convert is the customer's fact error, naming the
// raw value and the file's line; the fact is null, the customer is handed
// out, and so are the others.
func TestStreamBadValuesCSV(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	path := write(t, dir, "customers.csv", header+
		"c1,10,1,n,2024-06-30\n"+
		"c2,20,2,n,n/a\n"+
		"c3,abc,1.5,n,\n"+
		"c4,NaN,,n,\n"+
		"c5,1e999,,n,\n"+
		"c6,,,,\n"+
		"c7,  ,,n,\n"+
		"c8,80,8,s,2024-07-01\n", false)
	batches, err := stream(t, open(t, path, ""), rs, 3)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if len(batches) != 3 {
		t.Errorf("%d batches, want 3 of at most 3 customers", len(batches))
	}
	checkCustomers(t, flatten(batches), dir, []customerWant{
		{"c1", []any{10.0, 1, "n", day("2024-06-30T00:00:00Z")}, nil},
		{"c2", []any{20.0, 2, "n", nil}, []string{`last_order_at: "n/a" is not a date (use 2024-06-30 or 2024-06-30T02:00:00Z) (DIR/customers.csv:3)`}},
		{"c3", []any{nil, nil, "n", nil}, []string{
			`spend: "abc" is not a number (DIR/customers.csv:4)`,
			`orders: "1.5" is not a whole number (DIR/customers.csv:4)`,
		}},
		{"c4", []any{nil, nil, "n", nil}, []string{`spend: "NaN" is not a finite number (DIR/customers.csv:5)`}},
		{"c5", []any{nil, nil, "n", nil}, []string{`spend: "1e999" is not a finite number (DIR/customers.csv:6)`}},
		// The region is the empty text: a string fact may be empty.
		{"c6", []any{nil, nil, "", nil}, []string{`spend: the cell is empty, but the fact is not nullable (declare it number?) (DIR/customers.csv:7)`}},
		{"c7", []any{nil, nil, "n", nil}, []string{`spend: the cell is blank: "  ", but the fact is not nullable (declare it number?) (DIR/customers.csv:8)`}},
		{"c8", []any{80.0, 8, "s", day("2024-07-01T00:00:00Z")}, nil},
	})
}

func TestStreamBadValuesJSONL(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	path := write(t, dir, "customers.jsonl", `{"customer_id": "c1", "spend": 10, "region": "n", "last_order_at": "2024-06-30"}`+"\n"+
		`{"customer_id": "c2", "spend": 20, "region": "n", "last_order_at": "n/a"}`+"\n"+
		"\n"+
		`{"customer_id": "c3", "spend": true, "orders": "1.5", "region": {"a": 1}, "last_order_at": 20240630}`+"\n"+
		`{"customer_id": "c4", "spend": "+Inf", "orders": 9223372036854775808, "region": "n"}`+"\n"+
		`{"customer_id": "c5", "spend": null, "region": "n"}`+"\n"+
		`{"customer_id": "c6", "spend": 1e999}`+"\n"+
		`{"customer_id": "c7", "spend": 7, "region": "n"}`+"\n", false)
	got := all(t, open(t, path, ""), rs)
	checkCustomers(t, got, dir, []customerWant{
		{"c1", []any{10.0, nil, "n", day("2024-06-30T00:00:00Z")}, nil},
		{"c2", []any{20.0, nil, "n", nil}, []string{`last_order_at: "n/a" is not a date (use 2024-06-30 or 2024-06-30T02:00:00Z) (DIR/customers.jsonl:2)`}},
		{"c3", []any{nil, nil, nil, nil}, []string{
			`spend: true is not a number (DIR/customers.jsonl:4)`,
			`orders: "1.5" is not a whole number (DIR/customers.jsonl:4)`,
			`region: {"a":1} is not text (DIR/customers.jsonl:4)`,
			`last_order_at: 20240630 is not a date (use 2024-06-30 or 2024-06-30T02:00:00Z) (DIR/customers.jsonl:4)`,
		}},
		{"c4", []any{nil, nil, "n", nil}, []string{
			`spend: "+Inf" is not a finite number (DIR/customers.jsonl:5)`,
			`orders: 9223372036854775808 is not a whole number (DIR/customers.jsonl:5)`,
		}},
		{"c5", []any{nil, nil, "n", nil}, []string{`spend: the value is null, but the fact is not nullable (declare it number?) (DIR/customers.jsonl:6)`}},
		{"c6", []any{nil, nil, nil, nil}, []string{
			`spend: 1e999 is not a finite number (DIR/customers.jsonl:7)`,
			`region: no field "region", and the fact is not nullable (declare it string?) (DIR/customers.jsonl:7)`,
		}},
		{"c7", []any{7.0, nil, "n", nil}, nil},
	})
}

// The engine reports a fact error as the customer's rule error, naming
// the customer, the fact, the raw value and the line, and the customer
// keeps its previous segment.
func TestFactErrorKeepsTheSegment(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	path := write(t, dir, "customers.csv", header+"c1,500,1,n,n/a\n", false)
	got := all(t, open(t, path, ""), rs)
	if len(got) != 1 {
		t.Fatalf("%d customers, want 1", len(got))
	}
	c := got[0]
	c.State.Segments = []engine.Assignment{{Segment: "small", Since: day("2024-01-01T00:00:00Z")}}
	res := engine.New(rs).Evaluate(day("2024-07-01T00:00:00Z"), &c)
	want := `customer c1: facts.last_order_at: "n/a" is not a date (use 2024-06-30 or 2024-06-30T02:00:00Z) (DIR/customers.csv:2)`
	if len(res.Errors) != 1 || strings.ReplaceAll(res.Errors[0].Error(), dir, "DIR") != want {
		t.Fatalf("errors %v, want %q", res.Errors, want)
	}
	if s := res.Segments[0].Segment; s != "small" {
		t.Errorf("the customer moves to %q, want it kept in small", s)
	}
}

// Rows that are no customer stay fatal for the pass, listed together;
// customers before the first one, with fact errors or not, were handed
// out.
func TestStreamRowsThatAreNoCustomer(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	write(t, dir, "a.csv", header+
		"c1,10,1,n,\n"+
		"c2,20,2,n,\n"+
		"c3,abc,1,n,\n"+
		"c4,40,1.5,n,2024-13-01\n"+
		"c5,5\"0,1,n,\n"+
		"c6,60,1,n,\n", false)
	write(t, dir, "b.csv", "spend,customer_id,orders,region,last_order_at\n"+
		",c7,1,n,\n"+
		"8,,1,n,\n"+
		"9,c9,1\n"+
		"10,c10,1,n,\n", false)
	batches, err := stream(t, open(t, filepath.Join(dir, "*.csv"), ""), rs, 2)
	want := strings.ReplaceAll(`facts files DIR/*.csv (2 files): 3 bad rows in 2 files; fix them in the export:
  DIR/a.csv:6: malformed CSV: bare " in non-quoted-field
  DIR/b.csv:3: the key column "customer_id" is empty
  DIR/b.csv:4: 3 fields, but the header has 5`, "DIR", dir)
	if err == nil || err.Error() != want {
		t.Fatalf("Stream: error\n%v\nwant\n%s", err, want)
	}
	got := flatten(batches)
	if want := []string{"c1", "c2", "c3", "c4"}; len(batches) != 2 || !reflect.DeepEqual(keys(got), want) {
		t.Fatalf("batches %v, want two of %q", batches, want)
	}
	if len(got[2].FactErrors) != 1 || len(got[3].FactErrors) != 2 {
		t.Errorf("fact errors of c3 %v and c4 %v, want 1 and 2", got[2].FactErrors, got[3].FactErrors)
	}
}

// The reader does not sort: tierflow sorts a reader that is not
// jobs.Ordered. Customers come in file order, equal keys too.
func TestStreamKeepsFileOrder(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	write(t, dir, "a.csv", header+"c2,1,,a,\nc1,2,,a,\nc2,3,,a,\n", false)
	write(t, dir, "b.jsonl", `{"customer_id": "c1", "spend": 4, "region": "a"}`+"\n"+`{"customer_id": "c0", "spend": 5, "region": "a"}`+"\n", false)
	src := open(t, filepath.Join(dir, "*"), "")
	fr, err := src.OpenFacts(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	if _, ok := fr.(jobs.Ordered); ok {
		t.Error("the reader implements jobs.Ordered, but does not sort")
	}
	var got []string
	for _, c := range all(t, src, rs) {
		got = append(got, fmt.Sprintf("%s=%v", c.Key, c.Facts[0]))
	}
	if want := []string{"c2=1", "c1=2", "c2=3", "c1=4", "c0=5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("customers %q, want %q", got, want)
	}
}

// modifier is the freshness a reader offers a run.
type modifier interface {
	Modified() (time.Time, error)
}

func TestModified(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	times := map[string]time.Time{
		"customers-1.csv": day("2024-06-28T10:00:00Z"),
		"customers-2.csv": day("2024-06-30T02:00:00Z"), // the newest
		"customers-3.csv": day("2024-06-29T23:00:00Z"),
		"other.csv":       day("2024-07-05T00:00:00Z"), // not matched
	}
	for name, mt := range times {
		path := write(t, dir, name, header, false)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	src := open(t, filepath.Join(dir, "customers-*.csv"), "")
	fr, err := src.OpenFacts(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	m, ok := fr.(modifier)
	if !ok {
		t.Fatal("the reader has no Modified method")
	}
	for name, got := range map[string]func() (time.Time, error){"Source": src.Modified, "reader": m.Modified} {
		mt, err := got()
		if err != nil || !mt.Equal(times["customers-2.csv"]) {
			t.Errorf("%s.Modified() = %v, %v; want %v", name, mt, err, times["customers-2.csv"])
		}
	}

	// A file that arrives later is the source's, not the open pass's.
	later := day("2024-07-01T00:00:00Z")
	path := write(t, dir, "customers-4.csv", header, false)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if mt, err := src.Modified(); err != nil || !mt.Equal(later) {
		t.Errorf("Source.Modified() = %v, %v after a new file; want %v", mt, err, later)
	}
	if mt, err := m.Modified(); err != nil || !mt.Equal(times["customers-2.csv"]) {
		t.Errorf("reader.Modified() = %v, %v after a new file; want the pass's %v", mt, err, times["customers-2.csv"])
	}

	// A file of the pass that is gone is an error naming it.
	gone := filepath.Join(dir, "customers-2.csv")
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Modified(); err == nil || !strings.Contains(err.Error(), gone) {
		t.Errorf("reader.Modified() after a file was removed: error %v, want one naming %s", err, gone)
	}
}
