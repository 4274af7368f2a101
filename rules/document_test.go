package rules_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

// ExampleParseDocument reads a small settings file strictly: unknown keys
// get a "did you mean" hint, wrong types and missing keys are reported,
// and every problem comes back at once, as rule files' do.
func ExampleParseDocument() {
	src := "name: nightly\nretries: three\ntimout: 5m\n"
	d := rules.ParseDocument("jobs.yaml", []byte(src))
	m, _ := d.Mapping(d.Root(), "", "name", "retries", "timeout", "owner")
	fmt.Println(d.String(m["name"], "name"))
	d.Int(m["retries"], "retries")
	d.Required(m, d.Root(), "", "owner", "say who to page")
	fmt.Println(d.Err())
	// Output:
	// nightly
	// jobs.yaml:1:1: owner: "owner" is required (say who to page)
	//    1 | name: nightly
	//      | ^
	// jobs.yaml:2:10: retries: "three" is not a whole number
	//    2 | retries: three
	//      |          ^
	// jobs.yaml:3:1: timout: unknown key "timout" (did you mean "timeout"?)
	//    3 | timout: 5m
	//      | ^
}

// TestDocumentParse covers what ParseDocument itself rejects: the same
// things rule files may not contain.
func TestDocumentParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      string // "" for no errors
		empty     bool   // Root is nil
	}{
		{"empty", "", "", true},
		{"comments only", "# nothing\n", "", true},
		{"null document", "---\n~\n", "", true},
		{"mapping", "a: 1\n", "", false},
		{"second document", "a: 1\n---\nb: 2\n", "doc.yaml:2: a file holds one YAML document, but a second one starts here", false},
		{"anchor", "a: &x 1\nb: 2\n", "doc.yaml:1:4: YAML anchors and aliases (& and *) are not supported (write the value out)", true},
		{"syntax", "a: 1\nb: c: d\n", "doc.yaml:2:5: YAML syntax: mapping values are not allowed in this context (check indentation and quoting; a value that contains \": \" must be quoted)", true},
		{"too big", "a: " + strings.Repeat("x", rules.MaxFileBytes), "doc.yaml: file is", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := rules.ParseDocument("doc.yaml", []byte(tt.src))
			if (d.Root() == nil) != tt.empty {
				t.Errorf("Root() = %v, want nil: %v", d.Root(), tt.empty)
			}
			err := d.Err()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("got %v\nwant it to start with %s", err, tt.want)
			}
		})
	}
}

// TestDocumentReaders checks each reader's values and diagnostics.
func TestDocumentReaders(t *testing.T) {
	t.Parallel()
	src := `ok: {n: 3, b: true, s: text, id: warehouse, none: ~}
bad: {n: 3.5, b: yes, s: [x], id: Ware-House}
dbs:
  a: 1
  b: 2
  a: 3
list: [x, y]
`
	d := rules.ParseDocument("doc.yaml", []byte(src))
	top, ok := d.Mapping(d.Root(), "", "ok", "bad", "dbs", "list")
	if !ok {
		t.Fatal("top level is not a mapping")
	}
	good, _ := d.Mapping(top["ok"], "ok", "n", "b", "s", "id", "none")
	if n, ok := d.Int(good["n"], "ok.n"); n != 3 || !ok {
		t.Errorf("Int = %d, %v", n, ok)
	}
	if _, ok := d.Int(good["none"], "ok.none"); ok {
		t.Error("Int of null is ok")
	}
	if !d.Bool(good["b"], "ok.b") || d.String(good["s"], "ok.s") != "text" || d.Name(good["id"], "ok.id") != "warehouse" {
		t.Error("Bool, String or Name lost a value")
	}
	if d.String(good["none"], "ok.none") != "" || d.String(good["missing"], "ok.missing") != "" {
		t.Error("String of null or absent is not empty")
	}
	if d.Err() != nil {
		t.Fatalf("good values gave errors: %v", d.Err())
	}
	bad, _ := d.Mapping(top["bad"], "bad", "n", "b", "s", "id")
	if _, ok := d.Int(bad["n"], "bad.n"); ok {
		t.Error("Int of 3.5 is ok")
	}
	d.Bool(bad["b"], "bad.b")
	d.String(bad["s"], "bad.s")
	d.Name(bad["id"], "bad.id")
	var keys []string
	for _, e := range d.Entries(top["dbs"], "dbs") {
		keys = append(keys, e.Key)
	}
	if strings.Join(keys, ",") != "a,b" {
		t.Errorf("Entries = %v, want a,b", keys)
	}
	if items := d.List(top["list"], "list"); len(items) != 2 {
		t.Errorf("List = %d items", len(items))
	}
	if _, ok := d.Mapping(top["list"], "list", "x"); ok {
		t.Error("Mapping of a list is ok")
	}
	var list rules.ErrorList
	if !errors.As(d.Err(), &list) {
		t.Fatalf("Err() = %v, not an ErrorList", d.Err())
	}
	var got []string
	for _, e := range list {
		got = append(got, fmt.Sprintf("%d:%d %s: %s", e.Pos.Line, e.Pos.Col, e.Field, e.Message))
	}
	want := []string{
		`2:10 bad.n: "3.5" is not a whole number`,
		`2:18 bad.b: "yes" is not true or false`,
		`2:26 bad.s: must be a single value, not a list`,
		`2:35 bad.id: "Ware-House" is not a valid name`,
		`6:3 dbs.a: "a" is defined twice`,
		`7:7 list: must be a mapping (key: value lines), not a list`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, want string }{
		{"warehous", `did you mean "warehouse"?`},
		{"crm", "expected one of: lake, warehouse"},
	} {
		if got := rules.Suggest(tt.name, []string{"warehouse", "lake"}); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
