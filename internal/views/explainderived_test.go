package views

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// Explain lists the derived facts the rules read, with their kind and
// declaration, in every format; a rule set without any shows none.
func TestExplainDerivedFacts(t *testing.T) {
	t.Parallel()
	rs, err := rules.Compile("shop.yaml", []byte(`ruleset: shop
facts:
  channel: string
derived:
  spend_12m: sum(amount, last 365d)
  spend_rank: pct_rank(spend_12m)
  p_alive: p_alive()
  unread: count()
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= 100 && spend_rank > 0.5 && channel != ""
      - name: other
        fallback: true
actions:
  - name: call
    when: segment.tier == "vip" && p_alive < 0.3
    cooldown: 30d
`), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	row, err := rs.Facts.Row(map[string]any{"channel": "online", "spend_12m": 120.5, "spend_rank": 0.9, "p_alive": 0.2, "unread": 3})
	if err != nil {
		t.Fatal(err)
	}
	tr := engine.New(rs).Explain(time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), &engine.Customer{Key: "c1", Facts: row})
	out := map[string]*bytes.Buffer{}
	for _, format := range []string{"text", "json", "markdown"} {
		out[format] = &bytes.Buffer{}
		v, err := NewExplain(format, out[format])
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Trace(rs, tr); err != nil {
			t.Fatal(err)
		}
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
	}
	text := out["text"].String()
	want := "derived facts the rules read:\n  spend_12m = 120.5   (derived: sum(amount, last 365d))\n  spend_rank = 0.9    (population: pct_rank(spend_12m))\n  p_alive = 0.2       (predicted: p_alive())\n\n"
	if !strings.Contains(text, want) || strings.Contains(text, "unread") {
		t.Errorf("text:\n%s\nwant it to hold:\n%s", text, want)
	}
	var doc explainDoc
	if err := json.Unmarshal(out["json"].Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	got := doc.Explanations[0].Derived
	if len(got) != 3 || got[0] != (derivedJSON{Name: "spend_12m", Kind: "derived", Derive: "sum(amount, last 365d)", Value: 120.5}) || got[2].Kind != "predicted" {
		t.Errorf("json derived = %+v", got)
	}
	if md := out["markdown"].String(); !strings.Contains(md, "| spend_rank | 0.9 | population | pct_rank(spend_12m) |") {
		t.Errorf("markdown:\n%s", md)
	}
	plain, _ := rs.WithoutDerived()
	if ds := derivedReads(plain, tr); ds != nil {
		t.Errorf("a rule set without derived facts lists %v", ds)
	}
}
