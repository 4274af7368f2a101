package factsfile_test

import (
	"strings"
	"testing"
	"time"
)

const dateRuleSet = `ruleset: t
timezone: America/New_York
facts:
  signed_up: date
  churned_on: date?
segmentations:
  - name: tier
    segments:
      - name: fresh
        when: days_since(signed_up) < 30
      - name: old
        fallback: true
`

// Files give dates as days; a midnight on the cell's own clock or in the
// rule set's zone is that day; any other time of day is the customer's
// fact error, naming the file and line.
func TestDateFactsFromFiles(t *testing.T) {
	t.Parallel()
	rs := compile(t, dateRuleSet)
	for _, tc := range []struct{ name, line, content string }{
		{"d.csv", ":4)", "customer_id,signed_up,churned_on\n" +
			"1,2024-06-30,\n" +
			"2,2024-06-30T04:00:00Z,2024-07-01T00:00:00-04:00\n" +
			"3,2024-06-30T12:00:00Z,\n"},
		{"d.jsonl", ":3)", `{"customer_id": 1, "signed_up": "2024-06-30", "churned_on": null}` + "\n" +
			`{"customer_id": 2, "signed_up": "2024-06-30T04:00:00Z", "churned_on": "2024-07-01T00:00:00-04:00"}` + "\n" +
			`{"customer_id": 3, "signed_up": "2024-06-30T12:00:00Z"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, t.TempDir(), tc.name, tc.content, false)
			batches, err := stream(t, open(t, path, ""), rs, 10)
			if err != nil {
				t.Fatal(err)
			}
			cs := batches[0]
			if len(cs) != 3 {
				t.Fatalf("%d customers, want 3", len(cs))
			}
			day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
			for _, c := range cs[:2] {
				if d, ok := c.Facts[0].(time.Time); !ok || !d.Equal(day("2024-06-30")) || d.Location() != time.UTC {
					t.Errorf("customer %s: signed_up %v, want 2024-06-30 at 00:00 UTC", c.Key, c.Facts[0])
				}
				if len(c.FactErrors) > 0 {
					t.Errorf("customer %s: %v", c.Key, c.FactErrors)
				}
			}
			if d, ok := cs[1].Facts[1].(time.Time); !ok || !d.Equal(day("2024-07-01")) {
				t.Errorf("churned_on %v, want 2024-07-01: the day as written", cs[1].Facts[1])
			}
			fe := cs[2].FactErrors
			if len(fe) != 1 || fe[0].Fact != "signed_up" || !strings.Contains(fe[0].Err.Error(), `"2024-06-30T12:00:00Z" has a time of day, but the fact is a date`) ||
				!strings.Contains(fe[0].Err.Error(), tc.name+tc.line) {
				t.Errorf("customer 3: fact errors %v", fe)
			}
		})
	}
}
