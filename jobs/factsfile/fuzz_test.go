package factsfile_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/rules"
)

// fuzzRules declares a fact of every type, nullable and not, for the
// fuzz targets to read files with.
const fuzzRules = `ruleset: fuzz
facts:
  amount: number
  amount_n: number?
  orders: integer
  orders_n: integer?
  active: bool
  active_n: bool?
  seen_at: time
  seen_at_n: time?
  name: string
  name_n: string?
segmentations:
  - name: all
    segments:
      - name: everyone
        fallback: true
`

// shopRules reads the files in testdata (customers-*.csv*), so that the
// seeds taken from there stream.
const shopRules = `ruleset: shop
facts:
  spend: number
  last_order_at: time?
segmentations:
  - name: all
    segments:
      - name: everyone
        fallback: true
`

// fuzzHeader is the CSV header of fuzzRules.
const fuzzHeader = "customer_id,amount,amount_n,orders,orders_n,active,active_n,seen_at,seen_at_n,name,name_n"

// sampleRows is how many rows FactsSchema infers types from
// (factsfile.sampleRows).
const sampleRows = 100

// FuzzFactsCSV streams fuzzed CSV files (see fuzzFacts for what it
// checks). Seeds are the files in testdata and handcrafted edge cases;
// crashers go to testdata/fuzz/FuzzFactsCSV.
func FuzzFactsCSV(f *testing.F) {
	addTestdataSeeds(f)
	row := "c1,120.5,,3,,true,,2024-06-30,,north,\n"
	full := "c2,-1e3,0.25,-7,12,FALSE,t,2024-06-30T02:00:00+02:00,2024-06-30 02:00:00+00,\"a, \"\"quoted\"\" name\",x\n"
	for _, s := range []string{
		fuzzHeader + "\n" + row + full,
		"\ufeff" + fuzzHeader + "\r\n" + strings.ReplaceAll(row+full, "\n", "\r\n"), // a BOM, CRLF
		fuzzHeader + "\n\n" + row + "\n\n" + full + "\n",                            // empty lines
		fuzzHeader + "\n" + "c3,1,1,1,1,1,1,2024-01-01,2024-01-01,\"two\nlines\",\"\"\n",
		fuzzHeader + "\n" + "c4,1e400,-1e400,99999999999999999999,-9223372036854775809,true,,2024-06-30,,x,\n", // huge numbers
		fuzzHeader + "\n" + "c5,NaN,Inf,0,,true,,2024-06-30,,x,\n" + "c6,-Inf,+Infinity,-0,,0,,2024-06-30,,x,\n",
		fuzzHeader + "\n" + "c7,0x1p-2,1_000,+5, 6 , true ,,2024-02-29,,x,\n",
		fuzzHeader + "\n" + "c8,1,,1,,true,,2024-13-01,2023-02-29,x,\n", // dates that do not exist
		fuzzHeader + "\n" + "c9,1,,1,,true,,2024-06-30T23:59:60Z,,x,\n", // a leap second
		fuzzHeader + "\n" + "c10,1,,1,,true,,2024-06-30,,x,\n" + "c10,2,,2,,false,,2024-06-30,,y,\n",
		fuzzHeader + "\n" + ",1,,1,,true,,2024-06-30,,x,\n",          // no key
		fuzzHeader + "\n" + "c11,1,,1,,true,,2024-06-30\n",           // too few fields
		fuzzHeader + "\n" + "c12,1,,1,,true,,2024-06-30,,x,,extra\n", // too many
		fuzzHeader + "\n" + "c13,1,,1,,true,,2024-06-30,,x\"y,\n",    // a bare quote
		fuzzHeader + "\n" + "c14,1,,1,,true,,2024-06-30,,\"open,\n",  // an unclosed quote
		fuzzHeader + "\n" + "c15,,,,,,,,,,\n",                        // every cell empty
		fuzzHeader + "\n" + strings.Repeat("c,x,,1,,true,,2024-06-30,,x,\n", 25),
		fuzzHeader + "\n" + "c16,1,,1,,true,,2024-06-30,,~,\n",        // a long line, stretched past encoding/csv's 4 KiB buffer
		fuzzHeader + ",name\n" + "c17,1,,1,,true,,2024-06-30,,x,,y\n", // a duplicate column
		strings.Replace(fuzzHeader, ",amount,", ",amonut,", 1) + "\nc18,1,,1,,true,,2024-06-30,,x,\n",
		" customer_id , amount ,amount_n,orders,orders_n,active,active_n,seen_at,seen_at_n,name,name_n\nc19,1,,1,,true,,2024-06-30,,x,\n",
		fuzzHeader + "\n" + "c20,1,,1,,true,,2024-06-30,,\xff\xfe,\x00\n", // not UTF-8, a NUL
		fuzzHeader,
		fuzzHeader + "\n",
		"\ufeff",
		"",
		"\n\n",
	} {
		stretch := stretchFor(s, 5)
		f.Add([]byte(s), false, false, uint8(0), stretch)
		f.Add([]byte(s), true, false, uint8(2), stretch)
	}
	dir := f.TempDir() // one per fuzzing process, which runs one input at a time
	f.Fuzz(func(t *testing.T, data []byte, gz, shop bool, batch, stretch uint8) {
		fuzzFacts(t, dir, factsfile.FormatCSV, data, gz, shop, batch, stretch)
	})
}

// FuzzFactsJSONL streams fuzzed JSON Lines files (see fuzzFacts for what
// it checks). Crashers go to testdata/fuzz/FuzzFactsJSONL.
func FuzzFactsJSONL(f *testing.F) {
	row := `{"customer_id": "c1", "amount": 120.5, "orders": 3, "active": true, "seen_at": "2024-06-30", "name": "north"}`
	full := `{"customer_id": 42, "amount": "-1e3", "amount_n": 0.25, "orders": "-7", "orders_n": 12, "active": "FALSE", "active_n": null, "seen_at": "2024-06-30T02:00:00+02:00", "seen_at_n": "2024-06-30 02:00:00+00", "name": "", "name_n": true}`
	for _, s := range []string{
		row + "\n" + full + "\n",
		"\ufeff" + row + "\r\n" + full + "\r\n", // a BOM, CRLF
		"\n  \n" + row + "\n\t\n" + full,        // blank lines, no final newline
		`{"customer_id": "c2", "amount": 1e400, "orders": 99999999999999999999, "active": true, "seen_at": "2024-06-30", "name": "x"}`,
		`{"customer_id": "c3", "amount": 9007199254740993, "orders": 9007199254740993, "active": true, "seen_at": "2024-06-30", "name": "x"}`,
		`{"customer_id": "c4", "amount": "NaN", "amount_n": "Inf", "orders": 1.0, "orders_n": 1e2, "active": 1, "seen_at": 20240630, "name": 5}`,
		`{"customer_id": "c5", "amount": -0, "orders": -0, "active": false, "seen_at": "2024-02-29T23:59:59.999999999Z", "name": "x"}`,
		`{"customer_id": "c6", "amount": 1, "orders": 1, "active": true, "seen_at": "2024-06-30T23:59:60Z", "name": "x"}`,
		`{"customer_id": "c7", "amount": 1, "orders": 1, "active": true, "seen_at": "2024-06-30", "name": "x", "name": "y", "customer_id": "c7b"}`,
		`{"customer_id": {"id": 1}, "amount": [1], "orders": {}, "active": null, "seen_at": null, "name": null}`,
		`{"customer_id": "", "amount": 1}` + "\n" + `{"customer_id": null}` + "\n" + `{"customer_id": 1e3, "amount": 1, "orders": 1, "active": true, "seen_at": "2024-06-30", "name": "x"}`,
		`{"amount": 1}`,
		`{}`,
		`[1, 2]` + "\n" + `"text"` + "\n" + `null` + "\n" + `{"customer_id": "c8"} {}` + "\n" + `{"customer_id": "c9"`,
		`{"customer_id": "c10", "amount": 1, "orders": 1, "active": true, "seen_at": "2024-06-30", "name": "~"}`, // stretched past the scanner's first 64 KiB
		`{"customer_id": "c11", "amount": 1, "orders": 1, "active": true, "seen_at": "2024-06-30", "name": "\u0000\ud800\xff"}`,
		strings.Repeat(`{"customer_id": "c", "amount": "x"}`+"\n", 25),
		`{"customer_id": "a", "x": "5"}` + "\n" + `{"customer_id": "b", "x": 6}`,
		"",
		"\n\n",
		"\ufeff",
	} {
		stretch := stretchFor(s, 70)
		f.Add([]byte(s), false, false, uint8(0), stretch)
		f.Add([]byte(s), true, false, uint8(1), stretch)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, gz, shop bool, batch, stretch uint8) {
		fuzzFacts(t, dir, factsfile.FormatJSONL, data, gz, shop, batch, stretch)
	})
}

// addTestdataSeeds adds every file in testdata as a seed read with
// shopRules: gzipped ones both as they are and decompressed.
func addTestdataSeeds(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "customers-*"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false, true, uint8(0), uint8(0))
		if plain, ok := gunzip(data); ok && !bytes.Equal(plain, data) {
			f.Add(plain, true, true, uint8(1), uint8(0))
		}
	}
}

var fuzzRuleSets = map[bool]*rules.RuleSet{
	false: mustCompile(fuzzRules),
	true:  mustCompile(shopRules),
}

func mustCompile(src string) *rules.RuleSet {
	rs, err := rules.Compile("fuzz.yaml", []byte(src), rules.Options{})
	if err != nil {
		panic(err)
	}
	return rs
}

// stretchFor is the stretch of a seed: kib KiB for the first ~ of one
// that has one, else none.
func stretchFor(seed string, kib uint8) uint8 {
	if strings.Contains(seed, "~") {
		return kib
	}
	return 0
}

// fuzzFacts writes data to a file of format in dir (gzipped when gz is set),
// with its first ~ stretched to stretch KiB of x when stretch is not 0
// (long lines without long inputs, which are slow to fuzz and minimize),
// streams it with a rule set (shopRules when shop is set, else fuzzRules)
// in batches of batch%8+1 customers, and checks that:
//
//   - nothing panics;
//   - every batch but the last holds exactly the batch size, the last at
//     least one customer; after an error, every batch handed out is full
//     (the last partial one is never handed out);
//   - an error names the file; bad rows (rows that are no customer) are
//     listed as FILE:LINE: with lines that exist and ascend, at most 20
//     of them with a count of the others, and no customer was handed out
//     from the first bad line on;
//   - the customers handed out have the schema's Go types (a finite
//     float64, int, bool, UTC time.Time, string; nil only for a
//     nullable fact, or for a fact with a FactError), and their
//     FactErrors name facts of the schema, each once, and end in
//     (FILE:LINE) with lines that ascend from customer to customer;
//   - when the stream succeeds, every row is a customer: their keys and
//     string facts are the file's (read again with encoding/csv or
//     encoding/json), a fact error quotes the value it refuses,
//     FindFacts finds the same facts and fact errors, and CheckFacts
//     reports exactly the facts with errors in the first rows, on lines
//     that have them;
//   - the schema FactsSchema infers from a file of at most 100 rows
//     reads every value of it (no fact error, no bad row for a value's
//     type).
func fuzzFacts(t *testing.T, dir, format string, data []byte, gz, shop bool, batch, stretch uint8) {
	if stretch > 0 {
		data = bytes.Replace(data, []byte("~"), bytes.Repeat([]byte("x"), int(stretch)<<10), 1)
	}
	rs := fuzzRuleSets[shop]
	name := "facts." + format
	content := data
	if gz {
		name += ".gz"
		content = gzipped(t, data)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := factsfile.Open(path, "")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	// plain is the text the source reads: a file that starts with the
	// gzip magic is decompressed whatever its name.
	plain, readable := data, true
	if !gz {
		plain, readable = gunzip(data)
	}

	size := int(batch%8) + 1
	batches, err := streamBatches(src, rs, size)
	checkBatches(t, batches, size, err != nil)
	got := flatten(batches)
	checkTypes(t, rs, got, path, format)
	if err != nil {
		checkStreamError(t, err, path, format, rs, len(batches)*size)
	} else {
		if readable {
			checkAgainstReread(t, rs, format, plain, got)
		}
		checkFindFacts(t, src, rs, got)
		checkCheckFacts(t, src, rs, path, got)
	}
	if readable && bytes.Count(plain, []byte("\n")) < sampleRows {
		checkInferred(t, src, path, format, rs.Key)
	}
}

func streamBatches(src *factsfile.Source, rs *rules.RuleSet, size int) ([][]engine.Customer, error) {
	ctx := context.Background()
	fr, err := src.OpenFacts(ctx, rs)
	if err != nil {
		return nil, err
	}
	defer fr.Close()
	var batches [][]engine.Customer
	err = fr.Stream(ctx, size, func(b []engine.Customer) error {
		batches = append(batches, b)
		return nil
	})
	return batches, err
}

func flatten(batches [][]engine.Customer) []engine.Customer {
	var out []engine.Customer
	for _, b := range batches {
		out = append(out, b...)
	}
	return out
}

func checkBatches(t *testing.T, batches [][]engine.Customer, size int, failed bool) {
	t.Helper()
	for i, b := range batches {
		last := i == len(batches)-1 && !failed
		if len(b) > size || len(b) == 0 || (len(b) < size && !last) {
			t.Fatalf("batch size %d: batch %d of %d has %d customers (stream failed: %v)", size, i, len(batches), len(b), failed)
		}
	}
}

var (
	badRowsHead = regexp.MustCompile(`^facts file (.+): (\d+) bad rows?; fix them in the export:$`)
	moreRows    = regexp.MustCompile(`^  \.\.\. and (\d+) more$`)
)

// checkStreamError checks that err names path, and the form of a bad-row
// report; handed is how many customers were handed out before it.
func checkStreamError(t *testing.T, err error, path, format string, rs *rules.RuleSet, handed int) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, path) {
		t.Fatalf("the error does not name the file %s:\n%s", path, msg)
	}
	lines := strings.Split(msg, "\n")
	if strings.Contains(lines[0], "the header does not fit") && handed > 0 {
		t.Fatalf("%d customers were handed out before a header error:\n%s", handed, msg)
	}
	m := badRowsHead.FindStringSubmatch(lines[0])
	if m == nil {
		if len(lines) > 1 && !strings.Contains(lines[0], "the header does not fit") {
			t.Fatalf("an error of several lines that is no list of bad rows:\n%s", msg)
		}
		return
	}
	if m[1] != path {
		t.Fatalf("the bad-row report names %q, not the file %s", m[1], path)
	}
	n, _ := strconv.Atoi(m[2])
	rows := lines[1:]
	if n > 20 {
		mm := moreRows.FindStringSubmatch(rows[len(rows)-1])
		if mm == nil || mm[1] != strconv.Itoa(n-20) {
			t.Fatalf("%d bad rows, but the report does not end in ... and %d more:\n%s", n, n-20, msg)
		}
		rows = rows[:len(rows)-1]
	}
	if len(rows) != min(n, 20) || n == 0 {
		t.Fatalf("%d bad rows, but %d are listed:\n%s", n, len(rows), msg)
	}
	first := firstLine(format)
	prev := first - 1
	prefix := "  " + path + ":"
	for _, r := range rows {
		num, text, ok := strings.Cut(strings.TrimPrefix(r, prefix), ": ")
		line, err := strconv.Atoi(num)
		if !strings.HasPrefix(r, prefix) || !ok || err != nil || text == "" {
			t.Fatalf("a bad row not listed as FILE:LINE: MESSAGE: %q in\n%s", r, msg)
		}
		if line <= prev {
			t.Fatalf("bad row at line %d after one at line %d:\n%s", line, prev, msg)
		}
		if prev == first-1 && handed > line-first {
			t.Fatalf("%d customers were handed out, but the first bad row is at line %d:\n%s", handed, line, msg)
		}
		prev = line
	}
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gunzip decompresses data when it starts with the gzip magic bytes, as
// the source does; ok is false when that fails.
func gunzip(data []byte) ([]byte, bool) {
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return data, true
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, false
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, false
	}
	return out, true
}
