package factsfile_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
)

const header = "customer_id,spend,orders,region,last_order_at\n"

func TestCheckFacts(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // name -> content; .gz names are gzipped
		want  []string          // DIR is the directory
	}{
		{
			name:  "every column, good values",
			files: map[string]string{"a.csv": header + "c1,1,2,a,2024-06-30\nc2,1.5,,,\n", "b.jsonl": `{"customer_id": "c3", "spend": 1, "region": "a"}` + "\n"},
		},
		{
			name: "columns missing from every file",
			files: map[string]string{
				"a.csv":    "id,Spend,region\n1,10,n\n",
				"b.csv.gz": "region,id,Spend\nn,2,20\n",
			},
			want: []string{
				`no key column "customer_id" in the header of DIR/a.csv and DIR/b.csv.gz: add it to the export, or set key: in the rule file`,
				`fact "spend" (number): no column "spend" in the header of DIR/a.csv and DIR/b.csv.gz (did you mean "Spend"?): add it to the export, or remove the fact from the rule file`,
				`fact "orders" (integer): no column "orders" in the header of DIR/a.csv and DIR/b.csv.gz: add it to the export, or remove the fact from the rule file`,
				`fact "last_order_at" (time): no column "last_order_at" in the header of DIR/a.csv and DIR/b.csv.gz: add it to the export, or remove the fact from the rule file`,
			},
		},
		{
			name: "a column missing from one file",
			files: map[string]string{
				"a.csv": header + "c1,1,,a,\n",
				"b.csv": "customer_id,spend,region,last_order_at,spend\nc2,1,a,,1\n",
			},
			want: []string{
				`fact "orders" (integer): no column "orders" in the header of DIR/b.csv: add it to the export, or remove the fact from the rule file`,
				`DIR/b.csv: column "spend" appears 2 times in the header: remove all but one`,
			},
		},
		{
			name: "values that do not convert",
			files: map[string]string{"a.csv": header +
				"c1,\"12,50\",1,a,\n" +
				"c2,x,1,a,\n" +
				"c3,1,1,a,yesterday\n" +
				"c4,,1,a,\n" +
				"c5,1\n" +
				",1,1,a,\n"},
			want: []string{
				`DIR/a.csv:2: column spend holds "12,50", which is not a number: fix the export, or change the type of fact "spend" (number) in the rule file (and 1 more row like it in the first 100)`,
				`DIR/a.csv:4: column last_order_at holds "yesterday", which is not a date or date-time (2024-06-30, 2024-06-30T02:00:00Z): fix the export, or change the type of fact "last_order_at" (time) in the rule file`,
				`DIR/a.csv:5: column spend is empty, but fact "spend" is not nullable: fill it in the export, or declare the fact number? in the rule file`,
				`DIR/a.csv:6: 2 fields, but the header has 5: fix the export (and 1 more row like it in the first 100)`,
			},
		},
		{
			name:  "only the first 100 rows are read",
			files: map[string]string{"a.csv": header + strings.Repeat("c,1,1,a,\n", 100) + "c,x,1,a,\n"},
		},
		{
			name: "JSON Lines",
			files: map[string]string{"a.jsonl": `{"customer_id": "c1", "region": "a"}` + "\n" +
				`{"customer_id": "c2"}` + "\n" +
				`{"customer_id": "c3", "spend": "lots", "region": "a"}` + "\n" +
				`[1, 2]` + "\n"},
			want: []string{
				`fact "spend" (number): no field "spend" in the first object of DIR/a.jsonl, and the fact is not nullable: add it to every object, or declare the fact number?`,
				`DIR/a.jsonl:2: no field "region", and fact "region" is not nullable: add it to every object, or declare the fact string? in the rule file`,
				`DIR/a.jsonl:3: field spend holds "lots", which is not a number: fix the export, or change the type of fact "spend" (number) in the rule file`,
				`DIR/a.jsonl:4: not a JSON object: each line must hold one object, such as {"customer_id": "c1", ...}: fix the export`,
			},
		},
		{
			name:  "a JSON Lines file without the key",
			files: map[string]string{"a.ndjson": `{"id": "c1", "spend": 1, "region": "a"}` + "\n"},
			want: []string{
				`no key field "customer_id" in the first object of DIR/a.ndjson: add it to the export, or set key: in the rule file`,
			},
		},
	}
	rs := compile(t, ruleSet)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				write(t, dir, name, content, strings.HasSuffix(name, ".gz"))
			}
			got, err := open(t, filepath.Join(dir, "*"), "").CheckFacts(context.Background(), rs)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, strings.ReplaceAll(w, "DIR", dir))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("CheckFacts:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
			}
		})
	}
}

// field is what FactsSchema decides of a fact.
type field struct {
	Name     string
	Type     rules.Type
	Nullable bool
}

func fieldsOf(s *rules.Schema) []field {
	var out []field
	for _, f := range s.Fields {
		out = append(out, field{f.Name, f.Type, f.Nullable})
	}
	return out
}

func TestFactsSchema(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []field
	}{
		{
			name: "CSV",
			files: map[string]string{"a.csv": "spend,customer_id,orders,vip,signed_up,zip,note,empty,mixed\n" +
				"12.5,c1,3,true,2024-06-30,01234,hello,,1\n" +
				"7,c2,-4,false,2024-07-01T10:00:00Z,02345,,,x\n"},
			want: []field{
				{"spend", rules.TypeNumber, true},
				{"orders", rules.TypeInteger, true},
				{"vip", rules.TypeBool, true},
				{"signed_up", rules.TypeTime, true},
				{"zip", rules.TypeString, true}, // leading zeros: not a number
				{"note", rules.TypeString, true},
				{"empty", rules.TypeString, true},
				{"mixed", rules.TypeString, true},
			},
		},
		{
			name: "the first 100 rows of a glob decide",
			files: map[string]string{
				"a.csv": "customer_id,n\n" + strings.Repeat("c,1\n", 60),
				"b.csv": "n,customer_id\n" + strings.Repeat("2.5,c\n", 40) + "x,c\n",
			},
			want: []field{{"n", rules.TypeNumber, true}},
		},
		{
			name: "JSON Lines",
			files: map[string]string{"a.jsonl": `{"customer_id": "c1", "spend": 12, "ratio": 0.5, "ok": true, "at": "2024-06-30", "name": "x", "tags": ["a"], "n": null}` + "\n" +
				`{"customer_id": "c2", "spend": 13.5, "ratio": 1, "ok": false, "at": "2024-07-01", "name": "2024-06-30", "later": 1}` + "\n"},
			want: []field{
				{"spend", rules.TypeNumber, true},
				{"ratio", rules.TypeNumber, true},
				{"ok", rules.TypeBool, true},
				{"at", rules.TypeTime, true},
				{"name", rules.TypeString, true},
				{"n", rules.TypeString, true},
			},
		},
	}
	rs := compile(t, ruleSet)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				write(t, dir, name, content, false)
			}
			s, err := open(t, filepath.Join(dir, "*"), "").FactsSchema(context.Background(), rs)
			if err != nil {
				t.Fatal(err)
			}
			if got := fieldsOf(s); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FactsSchema:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestFactsSchemaCompilesAndStreams(t *testing.T) {
	path := write(t, t.TempDir(), "a.csv", "customer_id,spend,last_order_at\nc1,150,2024-06-30\nc2,,\n", false)
	src := open(t, path, "")
	ruleFile := "ruleset: t\nsegmentations:\n  - name: tier\n    segments:\n      - name: big\n        when: spend != nil && spend >= 100\n      - name: small\n        fallback: true\n"
	bare := &rules.RuleSet{Key: "customer_id"}
	schema, err := src.FactsSchema(context.Background(), bare)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Compile("t.yaml", []byte(ruleFile), rules.Options{Schema: schema})
	if err != nil {
		t.Fatalf("compile with the inferred schema: %v", err)
	}
	got := all(t, src, rs)
	want := fmt.Sprint([]any{150.0, day("2024-06-30T00:00:00Z")}, []any{nil, nil})
	if s := fmt.Sprint(got[0].Facts, got[1].Facts); len(got) != 2 || s != want {
		t.Errorf("facts %s, want %s", s, want)
	}
}

func TestFactsSchemaHeadersMustMatch(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.csv", "customer_id,spend,region\nc1,1,a\n", false)
	write(t, dir, "b.csv", "region,customer_id\na,c2\n", false)
	_, err := open(t, filepath.Join(dir, "*.csv"), "").FactsSchema(context.Background(), compile(t, ruleSet))
	want := fmt.Sprintf(`%s: the header lacks column(s) "spend" of %s: the files must share a header`, filepath.Join(dir, "b.csv"), filepath.Join(dir, "a.csv"))
	if err == nil || err.Error() != want {
		t.Errorf("FactsSchema: error %v, want %q", err, want)
	}
}

func TestFactsSchemaBadColumnName(t *testing.T) {
	path := write(t, t.TempDir(), "a.csv", "customer_id,Total Spend\nc1,1\n", false)
	_, err := open(t, path, "").FactsSchema(context.Background(), compile(t, ruleSet))
	want := path + `: fact name "Total Spend" is not a valid name (use lower-case letters, digits and _); rename the column in the export, or declare facts: in the rule file`
	if err == nil || err.Error() != want {
		t.Errorf("FactsSchema: error %v, want %q", err, want)
	}
}

// A JSON Lines column whose values mix quoted and bare numbers is
// inferred as text, and the file then reads under that schema: the bare
// numbers become their text as written (found by FuzzFactsJSONL).
func TestFactsSchemaMixedJSONNumbers(t *testing.T) {
	path := write(t, t.TempDir(), "f.jsonl", `{"customer_id":"a","x":"5"}`+"\n"+`{"customer_id":"b","x":6}`+"\n"+`{"customer_id":"c","x":1e400}`+"\n", false)
	src := open(t, path, "")
	schema, err := src.FactsSchema(context.Background(), &rules.RuleSet{Key: "customer_id"})
	if err != nil {
		t.Fatal(err)
	}
	if f, _, ok := schema.Lookup("x"); !ok || f.Type != rules.TypeString {
		t.Fatalf("x inferred as %+v, want text", schema.Fields)
	}
	rs := &rules.RuleSet{Name: "t", Key: "customer_id", Facts: schema}
	got := all(t, src, rs)
	if s := fmt.Sprint(got[0].Facts, got[1].Facts, got[2].Facts); len(got) != 3 || s != "[5] [6] [1e400]" {
		t.Errorf("facts %s, want [5] [6] [1e400]", s)
	}
}
