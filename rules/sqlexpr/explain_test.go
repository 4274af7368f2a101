package sqlexpr_test

import (
	"strings"
	"testing"

	"github.com/tierflow/tierflow/rules"
	"github.com/tierflow/tierflow/rules/sqlexpr"
)

const explainRules = `ruleset: shop
facts:
  spend: number
  orders: integer?
  channel: string
  last_order_at: time?
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend >= 1000 && orders > 3
      - name: loud
        when: upper(channel) == "WEB"
      - name: small
        fallback: true
actions:
  - name: call
    when: entered("tier", "vip")
    payload:
      spend: =round(spend)
      since: =days_since(last_order_at)
`

func TestExplainNamesWhatDoesNotTranslate(t *testing.T) {
	rs, err := rules.Compile("shop.yaml", []byte(explainRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	xs := sqlexpr.Explain(rs)
	if len(xs) != 5 || sqlexpr.Translated(xs) != 4 {
		t.Fatalf("got %d expressions, %d translated; want 5 and 4", len(xs), sqlexpr.Translated(xs))
	}
	u := xs[1].Err
	if u == nil {
		t.Fatalf("upper() translated: %+v", xs[1].SQL)
	}
	want := "shop.yaml:13:15: segmentations.tier.segments.loud.when: no exact SQL translation: " +
		"upper follows Go's Unicode case mapping, which PostgreSQL's collations do not promise\n" +
		"  13 | upper(channel) == \"WEB\"\n     | ^"
	if u.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", u.Error(), want)
	}
	// The nullable fact is guarded: a null is the engine's rule error.
	vip := xs[0].SQL
	if !strings.Contains(vip.Error, `src."orders") IS NULL`) || vip.Inexact != "FALSE" {
		t.Errorf("vip: error %q, inexact %q", vip.Error, vip.Inexact)
	}
	if got := xs[4].SQL; got.Kind != sqlexpr.Int || !strings.Contains(got.Value, "$1::timestamptz") {
		t.Errorf("days_since reads the as-of as $1: %+v", got)
	}
}

func TestUnsupportedPointsAtTheConstruct(t *testing.T) {
	rs, err := rules.Compile("p.yaml", []byte(strings.Replace(explainRules, `upper(channel) == "WEB"`, `spend > 1 && spend ** 2 > 10`, 1)), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := sqlexpr.Explain(rs)[1].Err
	if u == nil || !strings.HasSuffix(u.Error(), "  13 | spend > 1 && spend ** 2 > 10\n     |                    ^") || !strings.HasPrefix(u.Error(), "p.yaml:13:34: ") {
		t.Fatalf("got %v", u)
	}
}

// A quoted condition, wide characters before the construct: the column
// counts characters from after the quote, and the caret lines up under
// the construct on a terminal.
func TestUnsupportedPositionInAQuotedCondition(t *testing.T) {
	src := strings.Replace(explainRules, `upper(channel) == "WEB"`, `"channel == '线上' || upper(channel) == 'WEB'"`, 1)
	rs, err := rules.Compile("q.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := sqlexpr.Explain(rs)[1].Err
	want := "q.yaml:13:35: segmentations.tier.segments.loud.when: no exact SQL translation: " +
		"upper follows Go's Unicode case mapping, which PostgreSQL's collations do not promise\n" +
		"  13 | channel == '线上' || upper(channel) == 'WEB'\n" +
		"     |                      ^"
	if u == nil || u.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", u, want)
	}
}
