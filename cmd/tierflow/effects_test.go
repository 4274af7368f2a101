package main

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

// effectsDoc is what the tests read of effects' JSON.
type effectsDoc struct {
	FormatVersion int `json:"format_version"`
	RuleSets      []struct {
		RuleSet string `json:"ruleset"`
		From    string `json:"from"`
		Until   string `json:"until"`
		Latest  string `json:"latest"`
		Churn   string `json:"churn"`
		Method  string `json:"method"`
		Effects []struct {
			Action     string `json:"action"`
			Segment    string `json:"segment"`
			Horizon    int    `json:"horizon_days"`
			Treated    int    `json:"treated"`
			HeldOut    int    `json:"held_out"`
			Conclusive bool   `json:"conclusive"`
			Note       string `json:"note"`
			Churned    struct {
				Treated float64 `json:"treated"`
				HeldOut float64 `json:"held_out"`
			} `json:"churned"`
		} `json:"effects"`
		Costs []struct {
			Action   string  `json:"action"`
			Segment  string  `json:"segment"`
			Queued   int     `json:"queued"`
			UnitCost float64 `json:"unit_cost"`
			Cost     float64 `json:"cost"`
		} `json:"costs"`
	} `json:"rulesets"`
}

func effectsJSON(t *testing.T, args ...string) effectsDoc {
	t.Helper()
	r := runCLI(t, nil, append([]string{"effects", "--format", "json"}, args...)...).want(t, exitOK)
	var doc effectsDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("effects --format json: %v\n%s", err, r.stdout)
	}
	return doc
}

func TestEffects(t *testing.T) {
	t.Parallel()
	config := followUpProject(t)

	// Before any apply: nothing to compare, nothing spent; the period
	// ends today.
	r := runCLI(t, nil, "effects", "shop", "--config", config).want(t, exitOK)
	for _, want := range []string{
		"Effects of rule set shop: decisions from 2024-04-02 to 2024-07-01; no succeeded run yet\n",
		"  No comparisons yet: no action with a holdout was decided",
		"  No costs: no action with a cost was queued in this period",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("effects before any apply lacks %q:\n%s", want, r.stdout)
		}
	}

	applyFollowUps(t, config)
	doc := effectsJSON(t, "--config", config)
	if doc.FormatVersion != 1 || len(doc.RuleSets) != 2 || doc.RuleSets[1].RuleSet != "plain" || len(doc.RuleSets[1].Effects) != 0 {
		t.Fatalf("effects: one report per configured rule set, plain without comparisons: %+v", doc)
	}
	shop := doc.RuleSets[0]
	if shop.Latest != "2024-07-01T00:00:00Z" || shop.Until != shop.Latest || shop.From != "2024-04-02T00:00:00Z" || shop.Churn != "tier.lapsed" || shop.Method == "" {
		t.Errorf("effects: period %s to %s, latest %s, churn %q, method %q", shop.From, shop.Until, shop.Latest, shop.Churn, shop.Method)
	}
	// The decisions of 2024-06-01 are 30 days old at the latest run: only
	// that horizon is compared, and too few were held out to conclude.
	if len(shop.Effects) != 1 {
		t.Fatalf("effects: want one comparison (vip_call, vip, 30 days), got %+v", shop.Effects)
	}
	e := shop.Effects[0]
	if e.Action != "vip_call" || e.Segment != "vip" || e.Horizon != 30 || e.Treated+e.HeldOut != 31 || e.HeldOut == 0 || e.Conclusive || e.Note == "" {
		t.Errorf("effects: comparison %+v", e)
	}
	if len(shop.Costs) != 1 || shop.Costs[0].Action != "vip_call" || shop.Costs[0].UnitCost != 12.5 || shop.Costs[0].Cost != 12.5*float64(shop.Costs[0].Queued) {
		t.Errorf("effects: costs %+v", shop.Costs)
	}

	// A smaller --min-group concludes; --horizons picks them.
	doc = effectsJSON(t, "shop", "--min-group", "5", "--horizons", "30,60", "--config", config)
	if len(doc.RuleSets) != 1 || len(doc.RuleSets[0].Effects) != 1 || !doc.RuleSets[0].Effects[0].Conclusive {
		t.Errorf("effects --min-group 5: %+v", doc)
	}
	// A period that ends before the decisions has none.
	doc = effectsJSON(t, "shop", "--since", "2024-01-01", "--until", "2024-05-01", "--config", config)
	if got := doc.RuleSets[0]; len(got.Effects) != 0 || len(got.Costs) != 0 || got.From != "2024-01-01T00:00:00Z" {
		t.Errorf("effects --until 2024-05-01: %+v", got)
	}

	r = runCLI(t, nil, "effects", "shop", "--config", config).want(t, exitOK)
	for _, want := range []string{
		"Effects of rule set shop: decisions from 2024-04-02 to 2024-07-01, compared up to the latest run (as of 2024-07-01)\n  churn is tier.lapsed\n",
		"  action    segmentation  segment  horizon  treated  held out  churned, treated  churned, held out  churned diff (95% CI)",
		"too small to conclude",
		"  Differences are treated minus held out, in percentage points; confidence interval: ",
		"cost per class:\n  action    segmentation  segment  queued  unit cost",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("effects lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, nil, "effects", "shop", "--format", "csv", "--config", config).want(t, exitOK)
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][1] != "kind" || rows[1][1] != "effect" || rows[2][1] != "cost" {
		t.Errorf("effects --format csv: %v\n%s", err, r.stdout)
	}
	r = runCLI(t, nil, "effects", "shop", "--format", "markdown", "--config", config).want(t, exitOK)
	for _, want := range []string{"### Effects: `shop`", "#### Treated vs held out", "#### Cost per class"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("effects --format markdown lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestEffectsFlags(t *testing.T) {
	t.Parallel()
	config := followUpProject(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--horizons", "30,soon"}, `effects: --horizons "30,soon": give positive numbers of days`},
		{[]string{"--horizons", "0"}, `effects: --horizons "0"`},
		{[]string{"--min-group", "0"}, "effects: --min-group 0: give a positive number"},
		{[]string{"--since", "last spring"}, `effects: --since "last spring": give a duration (90d, 26w) or a date`},
		{[]string{"--until", "soon"}, "effects: --until: "},
		{[]string{"nosuch"}, `effects: no rule set "nosuch" in the config's rulesets`},
		{[]string{"shop", "--ruleset", "plain"}, `effects: rule set "shop" and --ruleset "plain": give one`},
	} {
		r := runCLI(t, nil, append([]string{"effects", "--config", config}, tc.args...)...).want(t, exitFailure)
		if !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("effects %v: stderr %q, want %q", tc.args, r.stderr, tc.want)
		}
	}
}
