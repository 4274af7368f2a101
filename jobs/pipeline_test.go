package jobs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// rowsFacts is a facts source holding customers in memory, handed out in
// the order given; ordered says whether it claims key order.
type rowsFacts struct {
	rows    []engine.Customer
	ordered bool
	opened  *rules.RuleSet // the rule set (shape) it was last opened with
}

func (f *rowsFacts) OpenFacts(_ context.Context, rs *rules.RuleSet) (FactsReader, error) {
	f.opened = rs
	return &rowsReader{f}, nil
}

type rowsReader struct{ f *rowsFacts }

func (r *rowsReader) Ordered() bool                        { return r.f.ordered }
func (r *rowsReader) Count(context.Context) (int64, error) { return int64(len(r.f.rows)), nil }
func (r *rowsReader) Close() error                         { return nil }
func (r *rowsReader) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	for i := 0; i < len(r.f.rows); i += batchSize {
		end := min(i+batchSize, len(r.f.rows))
		b := make([]engine.Customer, end-i)
		for k := range b {
			c := r.f.rows[i+k]
			c.Facts = slices.Clone(c.Facts)
			b[k] = c
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

func cust(key string, facts ...any) engine.Customer { return engine.Customer{Key: key, Facts: facts} }

// streamAll reads a facts reader to the end.
func streamAll(t *testing.T, r FactsReader, batchSize int) ([]engine.Customer, error) {
	t.Helper()
	var out []engine.Customer
	err := r.Stream(context.Background(), batchSize, func(b []engine.Customer) error {
		if len(b) > batchSize {
			t.Fatalf("a batch of %d customers, more than the batch size %d", len(b), batchSize)
		}
		out = append(out, b...)
		return nil
	})
	return out, err
}

func keysOf(cs []engine.Customer) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Key
	}
	return out
}

// The spill encoding gives back what it was given, for every fact type,
// nulls and fact errors.
func TestSpillRoundTrip(t *testing.T) {
	at := time.Date(2024, 2, 29, 13, 4, 5, 123456789, time.UTC)
	in := seqCustomer{seq: 1<<40 + 3, c: engine.Customer{
		Key:        "客户-007",
		Facts:      []any{12.5, nil, -42, "", "store", true, false, at, 0.0},
		FactErrors: []engine.FactError{{Fact: "last_order_at", Err: errors.New(`"n/a" is not a date`)}},
	}}
	b, err := encodeSeq(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeSeq(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.seq != in.seq || out.c.Key != in.c.Key || !reflect.DeepEqual(out.c.Facts, in.c.Facts) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", out, in)
	}
	if len(out.c.FactErrors) != 1 || out.c.FactErrors[0].Fact != "last_order_at" || out.c.FactErrors[0].Err.Error() != `"n/a" is not a date` {
		t.Fatalf("fact errors after the round trip: %v", out.c.FactErrors)
	}
	for cut := range len(b) {
		if _, err := decodeSeq(b[:cut]); err == nil {
			t.Fatalf("a record cut at %d of %d bytes decoded without error", cut, len(b))
		}
	}
	if _, err := encodeSeq(seqCustomer{c: engine.Customer{Key: "x", Facts: []any{int64(3)}}}); err == nil {
		t.Fatal("an int64 fact value (not a type readers produce) was encoded")
	}
}

const pipelineRules = `
ruleset: pipe
facts:
  spend: number
  channel: string?
  consent: bool?
segmentations:
  - name: tier
    segments:
      - name: big
        when: spend >= 100
      - name: small
        fallback: true
`

func compileRules(t *testing.T, src string) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("pipe.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// An unordered source larger than a sort chunk is sorted on disk: every
// customer comes out once, in key order, and duplicates keep their source
// order, so that first and last mean the rows the source returned first
// and last.
func TestUnorderedSourceSpills(t *testing.T) {
	defer func(n int) { SortChunk = n }(SortChunk)
	SortChunk = 7
	rs := compileRules(t, pipelineRules)
	rng := rand.New(rand.NewPCG(1, 2))
	var rows []engine.Customer
	for i := range 200 {
		rows = append(rows, cust(fmt.Sprintf("c%03d", i), float64(i), nil, nil))
	}
	// Every tenth customer appears three times, with spends 1000+n, 2000+n.
	for i := 0; i < 200; i += 10 {
		for k := 1; k <= 2; k++ {
			rows = append(rows, cust(fmt.Sprintf("c%03d", i), float64(k*1000+i), nil, nil))
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	// The shuffle mixed the copies up; give them spends in source order.
	seen := map[string]int{}
	for i := range rows {
		k := rows[i].Key
		var n int
		fmt.Sscanf(k, "c%03d", &n)
		if n%10 == 0 {
			rows[i].Facts[0] = float64(seen[k]*1000 + n)
			seen[k]++
		}
	}
	for _, tt := range []struct {
		policy string
		want   func(n int) float64
	}{
		{OnDuplicateFirst, func(n int) float64 { return float64(n) }},
		{OnDuplicateLast, func(n int) float64 {
			if n%10 == 0 {
				return float64(2000 + n)
			}
			return float64(n)
		}},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			ss := Sources{{Name: "primary", Facts: &rowsFacts{rows: rows}, OnDuplicate: tt.policy}}
			r, err := ss.OpenFacts(context.Background(), rs)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := streamAll(t, r, 16)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 200 || !slices.IsSorted(keysOf(got)) {
				t.Fatalf("%d customers, sorted %v; want 200 in key order", len(got), slices.IsSorted(keysOf(got)))
			}
			for i, c := range got {
				if c.Facts[0] != tt.want(i) {
					t.Fatalf("customer %s spend %v, want %v", c.Key, c.Facts[0], tt.want(i))
				}
			}
			st := sourceStats(r)[0]
			if st.Rows != 240 || st.Customers != 200 || st.Duplicates != 40 || len(st.DuplicateKeys) != MaxDuplicateExamples || st.DuplicateKeys[0] != "c000" {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// With on_duplicate: error (the default) the pass ends with the refusal,
// naming the first keys and the count.
func TestDuplicatesRefused(t *testing.T) {
	rs := compileRules(t, pipelineRules)
	for _, ordered := range []bool{false, true} {
		t.Run(fmt.Sprint("ordered=", ordered), func(t *testing.T) {
			rows := []engine.Customer{cust("a", 1.0, nil, nil), cust("b", 2.0, nil, nil), cust("b", 3.0, nil, nil), cust("c", 4.0, nil, nil), cust("c", 5.0, nil, nil), cust("c", 6.0, nil, nil)}
			r, err := Single(&rowsFacts{rows: rows, ordered: ordered}).OpenFacts(context.Background(), rs)
			if err != nil {
				t.Fatal(err)
			}
			_, err = streamAll(t, r, 2)
			var dup *DuplicateKeysError
			if !errors.As(err, &dup) || dup.Count != 3 || !slices.Equal(dup.Keys, []string{"b", "c"}) {
				t.Fatalf("err %v, want 3 duplicates of b and c", err)
			}
			if msg := err.Error(); !strings.Contains(msg, `facts source primary returned 3 duplicate rows`) || !strings.Contains(msg, `"b", "c"`) || !strings.Contains(msg, "on_duplicate") {
				t.Fatalf("message %q", msg)
			}
		})
	}
}

// A source that claims key order and breaks it fails the pass rather
// than merging wrongly.
func TestOrderedSourceOutOfOrder(t *testing.T) {
	rs := compileRules(t, pipelineRules)
	r, _ := Single(&rowsFacts{rows: []engine.Customer{cust("b", 1.0, nil, nil), cust("a", 1.0, nil, nil)}, ordered: true}).OpenFacts(context.Background(), rs)
	if _, err := streamAll(t, r, 10); err == nil || !strings.Contains(err.Error(), `returned customer "a" after "b", out of key order`) {
		t.Fatalf("err %v", err)
	}
}

// Three sources merge on the normalised key: the primary's customers are
// the population; a customer a secondary source lacks gets null there;
// rows of a secondary source with no primary customer are counted and
// ignored.
func TestMergeThreeSources(t *testing.T) {
	rs := compileRules(t, pipelineRules)
	primary := &rowsFacts{rows: []engine.Customer{cust("12", 50.0), cust("30", 5.0), cust("7", 500.0)}, ordered: true}
	channel := &rowsFacts{rows: []engine.Customer{cust(" 007 ", "store"), cust("030", "online"), cust("99", "partner")}}
	consent := &rowsFacts{rows: []engine.Customer{cust("12", true), cust("7", false)}}
	ss := Sources{
		{Name: "crm", Facts: primary},
		{Name: "warehouse", Facts: channel, Provides: []string{"channel"}, Key: KeyNormalization{Trim: true, StripZeros: true}},
		{Name: "consent", Facts: consent, Provides: []string{"consent"}},
	}
	if err := ss.Check(rs); err != nil {
		t.Fatal(err)
	}
	r, err := ss.OpenFacts(context.Background(), rs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := streamAll(t, r, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Customer{cust("12", 50.0, nil, true), cust("30", 5.0, "online", nil), cust("7", 500.0, "store", false)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged:\n got %v\nwant %v", got, want)
	}
	if primary.opened.Facts.Names()[0] != "spend" || len(primary.opened.Facts.Fields) != 1 || channel.opened.Facts.Names()[0] != "channel" {
		t.Fatalf("sources were opened with facts %v and %v", primary.opened.Facts.Names(), channel.opened.Facts.Names())
	}
	st := sourceStats(r)
	if st[1].Unmatched != 1 || st[2].Unmatched != 0 || st[0].Customers != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// Check names every problem of a sources configuration.
func TestSourcesCheck(t *testing.T) {
	rs := compileRules(t, pipelineRules)
	f := &rowsFacts{}
	ss := Sources{
		{Name: "a", Facts: f, Provides: []string{"spend"}},
		{Name: "b", Facts: f, Provides: []string{"spend", "nope"}, OnDuplicate: "newest", Key: KeyNormalization{Case: "title"}},
		{Name: "b", Facts: f},
	}
	err := ss.Check(rs)
	for _, want := range []string{
		`fact "spend" is provided by both source "a" and source "b"`,
		`source "b" provides "nope", which is not a fact of pipe`,
		`on_duplicate "newest"`,
		`key case "title"`,
		`source "b" is named twice`,
		`source "b": name the facts it provides`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("check: %v\nwant it to say %q", err, want)
		}
	}
	notNull := Sources{{Name: "p", Facts: f}, {Name: "s", Facts: f, Provides: []string{"spend"}}}
	if err := notNull.Check(rs); err == nil || !strings.Contains(err.Error(), `declare it nullable (number?)`) {
		t.Fatalf("a non-nullable fact from a secondary source: %v", err)
	}
}

func TestKeyNormalization(t *testing.T) {
	for _, tt := range []struct {
		k       KeyNormalization
		in, out string
	}{
		{KeyNormalization{}, " 007 ", " 007 "},
		{KeyNormalization{Trim: true}, " 007 ", "007"},
		{KeyNormalization{Trim: true, StripZeros: true}, " 007 ", "7"},
		{KeyNormalization{StripZeros: true}, "000", "0"},
		{KeyNormalization{StripZeros: true}, "0", "0"},
		{KeyNormalization{Case: "lower"}, "ÄBC-x", "äbc-x"},
		{KeyNormalization{Case: "upper", Trim: true}, " abc ", "ABC"},
	} {
		if got := tt.k.Apply(tt.in); got != tt.out {
			t.Errorf("%+v.Apply(%q) = %q, want %q", tt.k, tt.in, got, tt.out)
		}
	}
}

// A plan of facts whose newest date is long before the as-of time (a
// 2024 export previewed "as of today") warns and names the as-of to pass;
// facts with dates after the as-of time (a contract's end) do not hide
// it, and fresh facts give no warning.
func TestStaleFactsWarn(t *testing.T) {
	rs := compileRules(t, `
ruleset: stale
facts:
  last_order_at: time?
  contract_end_at: time?
segmentations:
  - name: recency
    segments:
      - name: recent
        when: days_since(last_order_at) < 90
      - name: lapsed
        fallback: true
`)
	day := func(s string) time.Time {
		v, err := time.Parse("2006-01-02", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	rows := []engine.Customer{
		cust("1", day("2024-07-29"), day("2030-01-01")),
		cust("2", day("2024-03-01"), nil),
		cust("3", nil, nil),
	}
	for _, tt := range []struct {
		asOf string
		want string
	}{
		{"2026-12-01", "the newest date in the facts (last_order_at 2024-07-29) is 855 days before the as-of time 2026-12-01: the facts look stale; if they are an export, evaluate them as of its date with --as-of 2024-07-30"},
		{"2024-08-15", ""},
	} {
		out, err := Plan(context.Background(), NoState{}, &rowsFacts{rows: rows}, rs, Options{AsOf: day(tt.asOf)})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(out.Report.Quality.Warnings, "\n")
		if got != tt.want {
			t.Errorf("as of %s: warnings %q\nwant %q", tt.asOf, got, tt.want)
		}
	}
}
