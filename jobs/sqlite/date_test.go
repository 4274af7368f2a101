package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// The embedded store reads date facts from the shapes SQLite keeps them
// in, DATE columns are date facts in a schema inferred for a rule file
// without facts, and a time of day in a date fact is the customer's error.
func TestDateFacts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := openTest(ctx, Config{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	execAll(t, s, `CREATE TABLE f (id TEXT PRIMARY KEY, d DATE, dt DATETIME, txt TEXT)`,
		`INSERT INTO f VALUES ('1', '2024-06-30', '2024-06-30 00:00:00', '2024-06-30T00:00:00+08:00'),
			('2', '2024-02-29', '2024-02-29 10:30:00', '2024-02-29')`)

	schema, err := s.Source("f").FactsSchema(ctx, &rules.RuleSet{Name: "dates", Key: "id"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]rules.Type{"d": rules.TypeDate, "dt": rules.TypeTime} {
		if f, _, ok := schema.Lookup(name); !ok || f.Type != want {
			t.Errorf("inferred %s: %v, want %s", name, f.Type, want)
		}
	}

	rs, err := rules.Compile("dates.yaml", []byte(`ruleset: dates
key: id
facts: {d: date, dt: date, txt: date}
segmentations:
  - name: s
    segments:
      - {name: a, fallback: true}
`), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fr, err := s.Source("f").OpenFacts(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	var got []engine.Customer
	if err := fr.Stream(ctx, 10, func(b []engine.Customer) error {
		got = append(got, b...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d customers, want 2", len(got))
	}
	for i, want := range []string{"2024-06-30", "2024-06-30", "2024-06-30"} {
		if d, ok := got[0].Facts[i].(time.Time); !ok || d.Format(time.RFC3339) != want+"T00:00:00Z" {
			t.Errorf("customer 1, fact %s: %v, want %s at 00:00 UTC", rs.Facts.Fields[i].Name, got[0].Facts[i], want)
		}
	}
	if fe := got[1].FactErrors; len(fe) != 1 || fe[0].Fact != "dt" || !strings.Contains(fe[0].Err.Error(), "has a time of day (10:30:00 in UTC)") {
		t.Errorf("customer 2: fact errors %v, want dt's time of day", fe)
	}
}
