package factsfile_test

// The oracle of the fuzz targets: what fuzzFacts checks of a file that
// streams, of its customers and of their fact errors.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs/factsfile"
	"github.com/tierflow/tierflow/rules"
)

// checkTypes checks every customer against the schema's Go types, and
// the form of its fact errors, which must come from the file at path.
func checkTypes(t *testing.T, rs *rules.RuleSet, cs []engine.Customer, path, format string) {
	t.Helper()
	fields := rs.Facts.Fields
	prev := 0 // the line of the last customer with fact errors
	for _, c := range cs {
		errs := map[string]bool{}
		line := 0
		for _, fe := range c.FactErrors {
			if _, _, ok := rs.Facts.Lookup(fe.Fact); !ok || errs[fe.Fact] {
				t.Fatalf("customer %q: a fact error for no fact of the schema, or a second one: %v", c.Key, c.FactErrors)
			}
			errs[fe.Fact] = true
			n, ok := errorLine(fe.Err.Error(), path)
			if !ok || (line != 0 && n != line) {
				t.Fatalf("customer %q: fact error %q does not end in (%s:LINE), with the line of the customer's other errors", c.Key, fe.Err, path)
			}
			line = n
		}
		if line != 0 {
			if first := firstLine(format); line < first || line < prev {
				t.Fatalf("customer %q: fact errors at line %d, after line %d (rows start at line %d): %v", c.Key, line, prev, first, c.FactErrors)
			}
			prev = line
		}
		if c.Key == "" {
			t.Fatalf("a customer without a key: %#v", c)
		}
		if len(c.Facts) != len(fields) {
			t.Fatalf("customer %q has %d facts, want %d", c.Key, len(c.Facts), len(fields))
		}
		if c.State.Segments != nil || c.State.LastActions != nil {
			t.Fatalf("customer %q comes with state %#v", c.Key, c.State)
		}
		for i, f := range fields {
			if errs[f.Name] && c.Facts[i] != nil {
				t.Fatalf("customer %q: fact %s has an error, but the value %#v", c.Key, f.Name, c.Facts[i])
			}
			if !hasType(f, c.Facts[i]) && !errs[f.Name] {
				t.Fatalf("customer %q: fact %s (%s, nullable %v) is %#v (%T)", c.Key, f.Name, f.Type, f.Nullable, c.Facts[i], c.Facts[i])
			}
		}
	}
}

// errorLine returns the line of a fact error ending in (path:LINE).
func errorLine(msg, path string) (int, bool) {
	rest, ok := strings.CutSuffix(msg, ")")
	i := strings.LastIndex(rest, " ("+path+":")
	if !ok || i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(rest[i+len(path)+3:])
	return n, err == nil && n > 0
}

// firstLine is the first line of a file a row can start on.
func firstLine(format string) int {
	if format == factsfile.FormatCSV {
		return 2
	}
	return 1
}

// factErrorOf returns the message of c's error for fact, if it has one.
func factErrorOf(c engine.Customer, fact string) (string, bool) {
	for _, fe := range c.FactErrors {
		if fe.Fact == fact {
			return fe.Err.Error(), true
		}
	}
	return "", false
}

func hasType(f rules.Field, v any) bool {
	if v == nil {
		return f.Nullable
	}
	switch f.Type {
	case rules.TypeNumber:
		x, ok := v.(float64)
		return ok && !math.IsNaN(x) && !math.IsInf(x, 0) // rules.Field.Coerce refuses them
	case rules.TypeInteger:
		_, ok := v.(int)
		return ok
	case rules.TypeBool:
		_, ok := v.(bool)
		return ok
	case rules.TypeTime:
		tm, ok := v.(time.Time)
		return ok && tm.Location() == time.UTC
	case rules.TypeString:
		_, ok := v.(string)
		return ok
	}
	return false
}

// checkAgainstReread reads plain again, with encoding/csv or
// encoding/json directly, and compares the keys and string facts.
func checkAgainstReread(t *testing.T, rs *rules.RuleSet, format string, plain []byte, got []engine.Customer) {
	t.Helper()
	var rows []map[string]any // by column, absent when missing
	if format == factsfile.FormatCSV {
		rows = rereadCSV(t, plain)
	} else {
		rows = rereadJSONL(t, plain)
	}
	if len(rows) != len(got) {
		t.Fatalf("%d customers, but the file has %d rows", len(got), len(rows))
	}
	for i, row := range rows {
		c := got[i]
		key := row[rs.Key]
		if n, ok := key.(json.Number); ok {
			key = n.String()
		}
		if c.Key != key {
			t.Fatalf("customer %d has key %q, but the file's row has %#v", i, c.Key, key)
		}
		for j, f := range rs.Facts.Fields {
			if msg, bad := factErrorOf(c, f.Name); bad {
				checkQuotesRaw(t, c.Key, f.Name, msg, row, format)
				continue
			}
			if f.Type != rules.TypeString {
				continue
			}
			want, ok := row[f.Name]
			switch {
			case !ok || want == nil:
				want = nil
			case format == factsfile.FormatCSV && want == "" && f.Nullable:
				want = nil
			case format == factsfile.FormatJSONL:
				switch x := want.(type) {
				case bool:
					want = strconv.FormatBool(x)
				case json.Number:
					want = x.String() // a text fact takes a number as written
				}
			}
			if c.Facts[j] != want {
				t.Fatalf("customer %q: fact %s is %#v, but the file holds %#v", c.Key, f.Name, c.Facts[j], want)
			}
		}
	}
}

// checkQuotesRaw checks that the fact error msg of a customer's fact
// names the value of the file's row: the quoted text, the JSON number or
// bool, null, or the missing field (values longer than a message quotes
// are not checked).
func checkQuotesRaw(t *testing.T, key, fact, msg string, row map[string]any, format string) {
	t.Helper()
	raw, ok := row[fact]
	var want string
	switch x := raw.(type) {
	case nil:
		want = "the value is null"
		if !ok {
			want = fmt.Sprintf("no field %q", fact)
		}
	case string:
		want = strconv.Quote(x)
		if x == "" && format == factsfile.FormatCSV {
			want = "the cell is empty"
		}
		if len(x) > 60 {
			return
		}
	case json.Number:
		want = x.String()
		if len(want) > 60 {
			return
		}
	case bool:
		want = strconv.FormatBool(x)
	default:
		return
	}
	if !strings.Contains(msg, want) {
		t.Fatalf("customer %q: the error of fact %s, %q, does not name the value %s of the file", key, fact, msg, want)
	}
}

func rereadCSV(t *testing.T, plain []byte) []map[string]any {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(plain)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("the file streams, but encoding/csv reads %d records: %v", len(recs), err)
	}
	header := recs[0]
	for i, h := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	var rows []map[string]any
	for _, rec := range recs[1:] {
		row := map[string]any{}
		for i, v := range rec {
			if _, dup := row[header[i]]; !dup {
				row[header[i]] = v
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func rereadJSONL(t *testing.T, plain []byte) []map[string]any {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(plain))
	sc.Buffer(nil, 32<<20)
	var rows []map[string]any
	for line := 1; sc.Scan(); line++ {
		text := sc.Bytes()
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\ufeff")) // as in CSV
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var row map[string]any
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("the file streams, but encoding/json cannot read %q: %v", text, err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("the file streams, but rereading it fails: %v", err)
	}
	return rows
}

// checkFindFacts checks that FindFacts returns, for the first and the
// last customer's keys, the facts of the first customer with that key.
func checkFindFacts(t *testing.T, src *factsfile.Source, rs *rules.RuleSet, got []engine.Customer) {
	t.Helper()
	if len(got) == 0 {
		return
	}
	for _, key := range []string{got[0].Key, got[len(got)-1].Key} {
		var want engine.Customer
		for _, c := range got {
			if c.Key == key {
				want = c
				break
			}
		}
		found, err := src.FindFacts(context.Background(), rs, key)
		if err != nil {
			t.Fatalf("FindFacts(%q): %v", key, err)
		}
		if found.Key != key || !sameFacts(found.Facts, want.Facts) || fmt.Sprint(found.FactErrors) != fmt.Sprint(want.FactErrors) {
			t.Fatalf("FindFacts(%q) = %#v, but the stream has %#v", key, found, want)
		}
	}
}

// checkCheckFacts checks that CheckFacts, which reads the first rows of
// a file that streams, reports every fact with an error in those rows,
// and no line without one.
func checkCheckFacts(t *testing.T, src *factsfile.Source, rs *rules.RuleSet, path string, got []engine.Customer) {
	t.Helper()
	msgs, err := src.CheckFacts(context.Background(), rs)
	if err != nil {
		t.Fatalf("the file streams, but CheckFacts fails: %v", err)
	}
	lines := map[int]bool{}
	for _, c := range got {
		if len(c.FactErrors) > 0 {
			n, _ := errorLine(c.FactErrors[0].Err.Error(), path)
			lines[n] = true
		}
	}
	for _, m := range msgs {
		rest, ok := strings.CutPrefix(m, path+":")
		num, _, _ := strings.Cut(rest, ": ")
		n, err := strconv.Atoi(num)
		switch {
		case ok && err == nil && lines[n]:
		case !ok && strings.Contains(m, "in the first object of "+path) && len(got) > 0 && len(got[0].FactErrors) > 0:
		default:
			t.Fatalf("CheckFacts reports %q, but no customer of that line has a fact error; all: %q", m, msgs)
		}
	}
	for _, c := range got[:min(len(got), sampleRows)] {
		for _, fe := range c.FactErrors {
			named := false
			for _, m := range msgs {
				named = named || strings.Contains(m, " "+fe.Fact+" ") || strings.Contains(m, `"`+fe.Fact+`"`)
			}
			if !named {
				t.Fatalf("customer %q has fact error %v, but CheckFacts does not name the fact: %q", c.Key, fe, msgs)
			}
		}
	}
}

func sameFacts(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if fx, ok := x.(float64); ok {
			if fy, ok := y.(float64); ok && math.IsNaN(fx) && math.IsNaN(fy) {
				continue
			}
		}
		if x != y {
			return false
		}
	}
	return true
}

// typeProblem matches a bad row's message about a value that does not
// convert to its fact's type (problem.short, badType).
var typeProblem = regexp.MustCompile(`(?:^|; )(?:column|field) [^ ]+: .* is not (?:a number|a whole number|true or false|a date or date-time|text)`)

// checkInferred infers a schema from the file, which has at most
// sampleRows rows, and streams the file with it: every value was
// sampled, so none may fail to convert to the type inferred for it.
func checkInferred(t *testing.T, src *factsfile.Source, path, format, key string) {
	t.Helper()
	schema, err := src.FactsSchema(context.Background(), &rules.RuleSet{Key: key})
	if err != nil {
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("FactsSchema: the error does not name the file %s: %v", path, err)
		}
		return
	}
	for _, f := range schema.Fields {
		if !f.Nullable || f.Name == key || f.Type < rules.TypeNumber || f.Type > rules.TypeTime {
			t.Fatalf("FactsSchema infers %+v", f)
		}
	}
	inferred := &rules.RuleSet{Name: "inferred", Key: key, Facts: schema}
	batches, err := streamBatches(src, inferred, 1000)
	for _, c := range flatten(batches) {
		if len(c.FactErrors) > 0 {
			t.Fatalf("customer %q: a value does not convert to the type FactsSchema inferred from it (%v): %v", c.Key, schema.Fields, c.FactErrors)
		}
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n")[1:] {
			_, text, _ := strings.Cut(strings.TrimPrefix(line, "  "+path+":"), ": ")
			if typeProblem.MatchString(text) {
				t.Fatalf("a value does not convert to the type FactsSchema inferred from it (%v):\n%v", schema.Fields, err)
			}
		}
		return
	}
	checkTypes(t, inferred, flatten(batches), path, format)
}
