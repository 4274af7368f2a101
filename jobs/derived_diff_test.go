package jobs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// diffRules is a rule set whose spend_12m window and whose rank's fact
// can be changed.
func diffRules(t *testing.T, spend, extra string) *rules.RuleSet {
	t.Helper()
	src := `ruleset: shop
facts:
  channel: string
` + extra + `derived:
  spend_12m: ` + spend + `
  spend_rank: pct_rank(spend_12m)
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= 100 && spend_rank >= 0 && channel != ""
      - name: other
        fallback: true
`
	rs, err := rules.Compile("shop.yaml", []byte(src), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// plan --baseline compares derived facts like others: a change of a
// derived fact's window is evaluated with each side's own definition
// (and each side's population facts rank their own version), while an
// unchanged rule set previews no difference.
func TestPlanDiffDerived(t *testing.T) {
	t.Parallel()
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	people := []engine.Customer{cust("a", "x"), cust("b", "x"), cust("c", "x")}
	txs := []engine.Customer{
		cust("a", asOf.Add(-10*24*time.Hour), 150.0),  // in both windows
		cust("b", asOf.Add(-100*24*time.Hour), 150.0), // in 365d only
		cust("c", asOf.Add(-5*24*time.Hour), 20.0),
	}
	facts := func() Sources {
		return Sources{{Name: PrimarySource, Facts: &rowsFacts{rows: people, ordered: true}, Transactions: &rowsFacts{rows: txs}}}
	}
	year := diffRules(t, "sum(amount, last 365d)", "")
	month := diffRules(t, "sum(amount, last 30d)", "")
	opts := Options{AsOf: asOf}
	same, err := PlanDiff(context.Background(), NoState{}, facts(), year, diffRules(t, "sum(amount, last 365d)", ""), opts, DiffLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if same.Customers != 3 || same.Differ != 0 {
		t.Errorf("unchanged: %d customers, %d differ", same.Customers, same.Differ)
	}
	rep, err := PlanDiff(context.Background(), NoState{}, facts(), year, month, opts, DiffLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Differ != 1 || len(rep.Samples) != 1 || rep.Samples[0].Customer != "b" {
		t.Errorf("365d -> 30d: %d differ, samples %+v; want customer b alone", rep.Differ, rep.Samples)
	}
	union, idx, err := mergeFacts(month.Facts.Fields, year.Facts.Fields)
	if err != nil {
		t.Fatal(err)
	}
	if got := fieldNames(union); got != "channel spend_12m spend_rank preview1_spend_12m preview1_spend_rank" || idx[1] != 3 || idx[2] != 4 ||
		union[4].Derived.Inputs[0] != "preview1_spend_12m" || union[2].Derived.Inputs[0] != "spend_12m" {
		t.Errorf("union %s, baseline at %v, inputs %v %v", got, idx, union[2].Derived.Inputs, union[4].Derived.Inputs)
	}
}

// A proposal that derives a fact the baseline declared reads the
// declared one from the facts source for the baseline, and derives its
// own.
func TestPlanDiffDeclaredToDerived(t *testing.T) {
	t.Parallel()
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	baseline, err := rules.Compile("shop.yaml", []byte(`ruleset: shop
facts:
  channel: string
  spend_12m: number
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= 100 && channel != ""
      - name: other
        fallback: true
`), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	proposed := diffRules(t, "sum(amount, last 365d)", "")
	union, _, err := mergeFacts(proposed.Facts.Fields, baseline.Facts.Fields)
	if err != nil {
		t.Fatal(err)
	}
	if got := fieldNames(union); got != "channel preview1_spend_12m spend_rank spend_12m" || union[2].Derived.Inputs[0] != "preview1_spend_12m" || union[3].Derived != nil {
		t.Fatalf("union %s", got)
	}
	// a's export says 500, its orders 150: both VIP. b's export says 0,
	// its orders 150: the proposal makes it VIP.
	people := []engine.Customer{cust("a", "x", 500.0), cust("b", "x", 0.0)}
	txs := []engine.Customer{cust("a", asOf.Add(-time.Hour), 150.0), cust("b", asOf.Add(-time.Hour), 150.0)}
	facts := Sources{{Name: PrimarySource, Facts: &rowsFacts{rows: people, ordered: true}, Transactions: &rowsFacts{rows: txs}}}
	rep, err := PlanDiff(context.Background(), NoState{}, facts, baseline, proposed, Options{AsOf: asOf}, DiffLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Differ != 1 || len(rep.Samples) != 1 || rep.Samples[0].Customer != "b" {
		t.Errorf("%d differ, samples %+v; want customer b alone", rep.Differ, rep.Samples)
	}
}

func fieldNames(fs []rules.Field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return strings.Join(names, " ")
}
