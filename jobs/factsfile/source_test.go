package factsfile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/rules"
)

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "b.csv", "customer_id\n", false)
	write(t, dir, "a.csv.gz", "customer_id\n", true)
	write(t, dir, "notes.txt", "hello\n", false)
	if err := os.Mkdir(filepath.Join(dir, "sub.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pattern string
		format  string
		files   []string // on success
		err     string   // a part of the error
	}{
		{name: "a file", pattern: "b.csv", files: []string{"b.csv"}},
		{name: "a glob, sorted, without directories", pattern: "*.csv*", files: []string{"a.csv.gz", "b.csv"}},
		{name: "a named format for any extension", pattern: "notes.txt", format: "csv", files: []string{"notes.txt"}},
		{name: "no match", pattern: "exports-*.csv", err: "facts files DIR/exports-*.csv: no file matches the pattern"},
		{name: "no file", pattern: "missing.csv", err: "facts file: stat DIR/missing.csv: no such file or directory"},
		{name: "a directory", pattern: "sub.csv", err: "facts file DIR/sub.csv is a directory"},
		{name: "an unknown extension", pattern: "*", err: "facts file DIR/notes.txt: unknown extension: use .csv for CSV, or .jsonl, .ndjson or .json for one JSON object per line, each optionally followed by .gz"},
		{name: "an unknown format", pattern: "b.csv", format: "xml", err: `unknown format "xml": use "csv", "jsonl", or none`},
		{name: "a bad pattern", pattern: "[", err: "syntax error in pattern"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := factsfile.Open(filepath.Join(dir, tc.pattern), tc.format)
			if tc.err != "" {
				want := strings.ReplaceAll(tc.err, "DIR", dir)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Open: error %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := src.Files()
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range tc.files {
				want = append(want, filepath.Join(dir, f))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Files() = %q, want %q", got, want)
			}
		})
	}
}

func TestStreamCSV(t *testing.T) {
	rs := compile(t, ruleSet)
	// A BOM, columns in another order than the schema's, and a column
	// that is no fact.
	path := write(t, t.TempDir(), "facts.csv", "\ufeffregion,customer_id,last_order_at,spend,orders,extra\n"+
		"north,c1,2024-06-30,120.5,3,x\n"+
		",c2,,70,,y\n"+
		"south,c3,2024-06-30T02:00:00+02:00, 5 ,0,z\n", false)
	got := all(t, open(t, path, ""), rs)
	want := []engine.Customer{
		{Key: "c1", Facts: []any{120.5, 3, "north", day("2024-06-30T00:00:00Z")}},
		// An empty cell is null, but the empty string for a string fact
		// that is not nullable.
		{Key: "c2", Facts: []any{70.0, nil, "", nil}},
		{Key: "c3", Facts: []any{5.0, 0, "south", day("2024-06-30T00:00:00Z")}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("customers:\n got %#v\nwant %#v", got, want)
	}
}

func TestStreamJSONL(t *testing.T) {
	rs := compile(t, ruleSet)
	path := write(t, t.TempDir(), "facts.ndjson",
		`{"customer_id": "c1", "spend": 120.5, "orders": 3, "region": "north", "last_order_at": "2024-06-30T02:00:00Z"}`+"\n"+
			"\n"+
			`{"customer_id": 42, "spend": 7, "region": "", "last_order_at": null}`+"\r\n"+
			`{"customer_id": "c3", "spend": "8.25", "orders": 9007199254740993, "region": "west", "unused": {"a": 1}}`+"\n", false)
	got := all(t, open(t, path, ""), rs)
	want := []engine.Customer{
		{Key: "c1", Facts: []any{120.5, 3, "north", day("2024-06-30T02:00:00Z")}},
		{Key: "42", Facts: []any{7.0, nil, "", nil}},
		// Numbers keep their precision: 2^53+1 is not a float64.
		{Key: "c3", Facts: []any{8.25, 9007199254740993, "west", nil}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("customers:\n got %#v\nwant %#v", got, want)
	}
}

func TestStreamGlobOverTwoFiles(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	write(t, dir, "customers-1.csv", "customer_id,spend,orders,region,last_order_at\n"+
		"c1,1,1,a,\n"+
		"c2,2,2,b,\n", false)
	// Another column order, read from the file's own header, and gzipped.
	write(t, dir, "customers-2.csv.gz", "last_order_at,region,orders,spend,customer_id\n"+
		"2024-01-02,c,3,3.5,c3\n", true)
	write(t, dir, "other.csv", "not,a,facts,file\n", false)
	got := all(t, open(t, filepath.Join(dir, "customers-*.csv*"), ""), rs)
	want := []engine.Customer{
		{Key: "c1", Facts: []any{1.0, 1, "a", nil}},
		{Key: "c2", Facts: []any{2.0, 2, "b", nil}},
		{Key: "c3", Facts: []any{3.5, 3, "c", day("2024-01-02T00:00:00Z")}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("customers:\n got %#v\nwant %#v", got, want)
	}
}

func TestStreamMixedFormats(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	write(t, dir, "a.csv", "customer_id,spend,orders,region,last_order_at\nc1,1,,a,\n", false)
	write(t, dir, "b.jsonl.gz", `{"customer_id": "c2", "spend": 2, "region": "b"}`+"\n", true)
	got := keys(all(t, open(t, filepath.Join(dir, "*"), ""), rs))
	if want := []string{"c1", "c2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("keys = %q, want %q", got, want)
	}
}

func TestGzipDetection(t *testing.T) {
	rs := compile(t, ruleSet)
	const csv = "customer_id,spend,orders,region,last_order_at\nc1,1,1,a,\nc2,2,2,b,\n"
	const jsonl = `{"customer_id": "c1", "spend": 1, "region": "a"}` + "\n" + `{"customer_id": "c2", "spend": 2, "region": "a"}` + "\n"
	tests := []struct {
		name    string
		file    string
		content string
		gz      bool
		format  string
		err     string
	}{
		{name: "by extension", file: "f.csv.gz", content: csv, gz: true},
		{name: "by magic bytes, without the extension", file: "f.csv", content: csv, gz: true},
		{name: "JSON Lines", file: "f.jsonl.gz", content: jsonl, gz: true},
		{name: "a named format", file: "export.dat", content: jsonl, gz: true, format: "jsonl"},
		{name: "plain text named .gz", file: "f.csv.gz", content: csv, err: "DIR/f.csv.gz: not gzip data, despite its .gz extension"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := write(t, dir, tc.file, tc.content, tc.gz)
			batches, err := stream(t, open(t, path, tc.format), rs, 10)
			if tc.err != "" {
				want := strings.ReplaceAll(tc.err, "DIR", dir)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Stream: error %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(batches) != 1 || !reflect.DeepEqual(keys(batches[0]), []string{"c1", "c2"}) {
				t.Errorf("batches = %v, want one of c1, c2", batches)
			}
		})
	}
}

func TestStreamTruncatedGzip(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	rows := "customer_id,spend,orders,region,last_order_at\n" + strings.Repeat("c1,1,1,a,\n", 10000)
	path := write(t, dir, "f.csv.gz", rows, true)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = stream(t, open(t, path, ""), rs, 100)
	if want := path + ": unexpected EOF"; err == nil || err.Error() != want {
		t.Errorf("Stream: error %v, want %q", err, want)
	}
}

// Rows that are no customer are fatal, listed together; a customer with
// bad values only (line 5) is no bad row.
func TestStreamBadRowsJSONL(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	path := write(t, dir, "f.jsonl", `{"customer_id": "c1", "spend": 1, "region": "a"}`+"\n"+
		`{"customer_id": "c2", "spend": 1, "region": "a"`+"\n"+
		`{"spend": 1, "region": "a"}`+"\n"+
		`{"customer_id": {"id": 3}, "spend": true, "region": "a"}`+"\n"+
		`{"customer_id": "c5", "spend": null}`+"\n"+
		`[1, 2]`+"\n"+
		`{"customer_id": "c7", "spend": 1, "region": "a"} {}`+"\n", false)
	batches, err := stream(t, open(t, path, ""), rs, 1)
	want := strings.ReplaceAll(`facts file DIR/f.jsonl: 5 bad rows; fix them in the export:
  DIR/f.jsonl:2: not a JSON object: unexpected EOF
  DIR/f.jsonl:3: no key field "customer_id"
  DIR/f.jsonl:4: the key field "customer_id" is {"id":3}: use a string or a number; field spend: true is not a number
  DIR/f.jsonl:6: not a JSON object: each line must hold one object, such as {"customer_id": "c1", ...}
  DIR/f.jsonl:7: more than one JSON value on the line: each line must hold one object`, "DIR", dir)
	if err == nil || err.Error() != want {
		t.Fatalf("Stream: error\n%v\nwant\n%s", err, want)
	}
	if got := keys(flatten(batches)); !reflect.DeepEqual(got, []string{"c1"}) {
		t.Errorf("customers %q handed out, want only c1, before the first bad row", got)
	}
}

// A byte order mark before the first object is read past, as in CSV,
// plain or gzipped; anywhere else it is not JSON.
func TestStreamJSONLByteOrderMark(t *testing.T) {
	rs := compile(t, ruleSet)
	content := "\ufeff" + `{"customer_id": "c1", "spend": 120.5, "region": "north"}` + "\n" +
		`{"customer_id": "c2", "spend": 7, "region": ""}` + "\n"
	for _, gz := range []bool{false, true} {
		path := write(t, t.TempDir(), "facts.jsonl", content, gz)
		if got := keys(all(t, open(t, path, ""), rs)); !reflect.DeepEqual(got, []string{"c1", "c2"}) {
			t.Errorf("gzip %v: customers %v, want [c1 c2]", gz, got)
		}
		schema, err := open(t, path, "").FactsSchema(context.Background(), &rules.RuleSet{Name: "t", Key: "customer_id"})
		if err != nil || schema.Names()[0] != "spend" {
			t.Errorf("gzip %v: FactsSchema = %v, %v; want the columns without the mark", gz, schema, err)
		}
	}
	path := write(t, t.TempDir(), "facts.jsonl", `{"customer_id": "c1", "spend": 1, "region": "a"}`+"\n\ufeff"+`{"customer_id": "c2", "spend": 1, "region": "a"}`+"\n", false)
	_, err := stream(t, open(t, path, ""), rs, 10)
	if err == nil || !strings.Contains(err.Error(), path+":2: not a JSON object") {
		t.Errorf("Stream: error %v, want line 2 refused", err)
	}
}

// Anything after a line's object, even with no space before it, makes
// the line a bad row.
func TestStreamJSONLTrailingGarbage(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	const obj = `{"customer_id": "c1", "spend": 1, "region": "a"}`
	var lines []string
	for _, tail := range []string{"x", " x", "}", ",", "{}", ` {"customer_id": "c9"}`, " // a comment", " null", "]"} {
		lines = append(lines, obj+tail)
	}
	path := write(t, dir, "f.jsonl", obj+"\n"+strings.Join(lines, "\n")+"\n"+obj+"  \t\n", false)
	_, err := stream(t, open(t, path, ""), rs, 10)
	var want []string
	for i := range lines {
		want = append(want, fmt.Sprintf("  %s:%d: more than one JSON value on the line: each line must hold one object", path, i+2))
	}
	if err == nil || !strings.HasSuffix(err.Error(), fmt.Sprintf("%d bad rows; fix them in the export:\n", len(lines))+strings.Join(want, "\n")) {
		t.Errorf("Stream: error\n%v\nwant every line with a tail refused:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestStreamListsTheFirst20BadRows(t *testing.T) {
	rs := compile(t, ruleSet)
	rows := "customer_id,spend,orders,region,last_order_at\n" + strings.Repeat(",1,1,a,\n", 25)
	path := write(t, t.TempDir(), "f.csv", rows, false)
	_, err := stream(t, open(t, path, ""), rs, 10)
	if err == nil {
		t.Fatal("Stream: no error for 25 bad rows")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 22 {
		t.Fatalf("the error has %d lines, want a heading, 20 rows and a tail:\n%v", len(lines), err)
	}
	if want := "facts file " + path + ": 25 bad rows; fix them in the export:"; lines[0] != want {
		t.Errorf("heading %q, want %q", lines[0], want)
	}
	if want := "  " + path + `:21: the key column "customer_id" is empty`; lines[20] != want {
		t.Errorf("20th row %q, want %q", lines[20], want)
	}
	if want := "  ... and 5 more"; lines[21] != want {
		t.Errorf("tail %q, want %q", lines[21], want)
	}
}

func TestStreamMissingHeaderColumns(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	write(t, dir, "a.csv", "customer_id,spend,orders,region,last_order_at\nc1,1,1,a,\n", false)
	write(t, dir, "b.csv", "customer_id,spnd,region,last_order_at\nc2,1,a,\n", false)
	batches, err := stream(t, open(t, filepath.Join(dir, "*.csv"), ""), rs, 1)
	want := strings.ReplaceAll(`facts files DIR/*.csv (2 files): the header does not fit rule set t:
  fact "spend" (number): no column "spend" in the header of DIR/b.csv (did you mean "spnd"?): add it to the export, or remove the fact from the rule file
  fact "orders" (integer): no column "orders" in the header of DIR/b.csv: add it to the export, or remove the fact from the rule file`, "DIR", dir)
	if err == nil || err.Error() != want {
		t.Fatalf("Stream: error\n%v\nwant\n%s", err, want)
	}
	// Headers are checked before any customer is handed out.
	if len(batches) != 0 {
		t.Errorf("%d batches were handed out, want none", len(batches))
	}
}

func TestStreamEmptyCSV(t *testing.T) {
	rs := compile(t, ruleSet)
	path := write(t, t.TempDir(), "f.csv", "", false)
	_, err := stream(t, open(t, path, ""), rs, 1)
	if want := path + ": empty file: the first line must be the header"; err == nil || err.Error() != want {
		t.Errorf("Stream: error %v, want %q", err, want)
	}
}

func TestStreamBatchSize(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	write(t, dir, "a.csv", "customer_id,spend,orders,region,last_order_at\nc1,1,,a,\nc2,2,,a,\nc3,3,,a,\nc4,4,,a,\n", false)
	write(t, dir, "b.jsonl", `{"customer_id": "c5", "spend": 5, "region": "a"}`+"\n"+
		`{"customer_id": "c6", "spend": 6, "region": "a"}`+"\n"+
		`{"customer_id": "c7", "spend": 7, "region": "a"}`+"\n", false)
	src := open(t, filepath.Join(dir, "*"), "")
	for _, size := range []int{1, 3, 7, 100} {
		batches, err := stream(t, src, rs, size)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, b := range batches {
			if len(b) > size || len(b) == 0 || (len(b) < size && i < len(batches)-1) {
				t.Errorf("batch size %d: batch %d has %d customers", size, i, len(b))
			}
			// Batches are the caller's: earlier ones are intact.
			for _, c := range b {
				got = append(got, c.Key)
				if want := float64(c.Key[1] - '0'); c.Facts[0] != want {
					t.Errorf("batch size %d: customer %s has spend %v, want %v", size, c.Key, c.Facts[0], want)
				}
			}
		}
		if want := []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7"}; !reflect.DeepEqual(got, want) {
			t.Errorf("batch size %d: keys %q, want %q", size, got, want)
		}
		if want := (7 + size - 1) / size; len(batches) != want {
			t.Errorf("batch size %d: %d batches, want %d", size, len(batches), want)
		}
	}
	if _, err := stream(t, src, rs, 0); err == nil || !strings.Contains(err.Error(), "batch size 0: must be at least 1") {
		t.Errorf("batch size 0: error %v", err)
	}
}

func TestStreamStateIsLeftEmpty(t *testing.T) {
	rs := compile(t, ruleSet)
	path := write(t, t.TempDir(), "f.csv", "customer_id,spend,orders,region,last_order_at\nc1,1,,a,\n", false)
	for _, c := range all(t, open(t, path, ""), rs) {
		if !reflect.DeepEqual(c.State, engine.State{}) {
			t.Errorf("customer %s has state %#v, want none: the state store fills it", c.Key, c.State)
		}
	}
	fr, err := open(t, path, "").OpenFacts(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := fr.Count(context.Background()); n != -1 || err != nil {
		t.Errorf("Count = %d, %v; want -1 (unknown)", n, err)
	}
}

func TestStreamLineTooLong(t *testing.T) {
	rs := compile(t, ruleSet)
	long := `{"customer_id": "c2", "region": "` + strings.Repeat("x", 16<<20) + `"}`
	path := write(t, t.TempDir(), "f.jsonl", `{"customer_id": "c1", "spend": 1, "region": "a"}`+"\n"+long+"\n", false)
	_, err := stream(t, open(t, path, ""), rs, 10)
	if want := path + ": line 2 is longer than 16 MiB"; err == nil || err.Error() != want {
		t.Errorf("Stream: error %v, want %q", err, want)
	}
}

func TestStreamCanceled(t *testing.T) {
	rs := compile(t, ruleSet)
	path := write(t, t.TempDir(), "f.csv", "customer_id,spend,orders,region,last_order_at\nc1,1,,a,\n", false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fr, err := open(t, path, "").OpenFacts(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	err = fr.Stream(ctx, 10, func([]engine.Customer) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Stream: error %v, want context.Canceled", err)
	}
}

func TestStreamStopsOnTheCallersError(t *testing.T) {
	rs := compile(t, ruleSet)
	path := write(t, t.TempDir(), "f.csv", "customer_id,spend,orders,region,last_order_at\nc1,1,,a,\nc2,1,,a,\n", false)
	fr, err := open(t, path, "").OpenFacts(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err = fr.Stream(context.Background(), 1, func([]engine.Customer) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Stream: error %v after %d calls, want stop after 1", err, calls)
	}
}

func TestFindFacts(t *testing.T) {
	rs := compile(t, ruleSet)
	dir := t.TempDir()
	write(t, dir, "a.csv", "customer_id,spend,orders,region,last_order_at\nc1,1,,a,\nc2,oops,,a,\n", false)
	write(t, dir, "b.csv.gz", "customer_id,spend,orders,region,last_order_at\nc3,3,2,b,2024-06-30\nc4,x,,b,\n", true)
	src := open(t, filepath.Join(dir, "*"), "")
	ctx := context.Background()

	c, err := src.FindFacts(ctx, rs, "c3")
	if err != nil {
		t.Fatalf("FindFacts(c3): %v", err)
	}
	want := &engine.Customer{Key: "c3", Facts: []any{3.0, 2, "b", day("2024-06-30T00:00:00Z")}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("FindFacts(c3) = %#v, want %#v", c, want)
	}

	// A value that does not convert is the customer's fact error.
	c, err = src.FindFacts(ctx, rs, "c4")
	wantErr := `"x" is not a number (` + filepath.Join(dir, "b.csv.gz") + ":3)"
	if err != nil || c.Key != "c4" || len(c.FactErrors) != 1 || c.FactErrors[0].Fact != "spend" || c.FactErrors[0].Err.Error() != wantErr || c.Facts[0] != nil || c.Facts[2] != "b" {
		t.Errorf("FindFacts(c4) = %#v, %v; want c4 with spend null and its fact error %q", c, err, wantErr)
	}

	_, err = src.FindFacts(ctx, rs, "c9")
	if want := `no customer "c9" in facts files ` + filepath.Join(dir, "*") + " (2 files)"; err == nil || err.Error() != want {
		t.Errorf("FindFacts(c9): error %v, want %q", err, want)
	}
}

func TestStreamEmptyCSVCells(t *testing.T) {
	tests := []struct {
		typ  string
		cell string
		want any    // the value of the cell
		err  string // or the customer's fact error, before its position
	}{
		{typ: "string", want: ""},
		{typ: "string", cell: " ", want: " "},
		{typ: "string?", want: nil},
		{typ: "string?", cell: " ", want: " "},
		{typ: "number?", want: nil},
		{typ: "number?", cell: "  ", want: nil},
		{typ: "time?", want: nil},
		{typ: "integer", err: `the cell is empty, but the fact is not nullable (declare it integer?)`},
		{typ: "bool", err: `the cell is empty, but the fact is not nullable (declare it bool?)`},
		{typ: "time", cell: " ", err: `the cell is blank: " ", but the fact is not nullable (declare it time?)`},
	}
	for _, tc := range tests {
		t.Run(tc.typ+" "+strconv.Quote(tc.cell), func(t *testing.T) {
			rs := compile(t, "ruleset: t\nfacts:\n  f: "+tc.typ+"\nsegmentations:\n  - name: s\n    segments:\n      - name: all\n        fallback: true\n")
			path := write(t, t.TempDir(), "f.csv", "customer_id,f\nc1,"+tc.cell+"\nc2,\n", false)
			cs := all(t, open(t, path, ""), rs)
			if len(cs) != 2 {
				t.Fatalf("%d customers, want 2", len(cs))
			}
			c := cs[0]
			if tc.err != "" {
				want := tc.err + " (" + path + ":2)"
				if len(c.FactErrors) != 1 || c.FactErrors[0].Fact != "f" || c.FactErrors[0].Err.Error() != want || c.Facts[0] != nil {
					t.Fatalf("customer %#v, want fact f null with the error %q", c, want)
				}
				return
			}
			if c.FactErrors != nil || c.Facts[0] != tc.want {
				t.Errorf("the cell %q of a %s fact is %#v (errors %v), want %#v", tc.cell, tc.typ, c.Facts[0], c.FactErrors, tc.want)
			}
		})
	}
}
