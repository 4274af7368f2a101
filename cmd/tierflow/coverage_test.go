package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// followUpRules is a rule set with a coverage target, a holdout, a
// contact limit, a cost and a churn segment.
const followUpRules = `ruleset: shop
churn: tier.lapsed
limits:
  per_customer: 1 per 7d
facts:
  spend_12m: number
segmentations:
  - name: tier
    segments:
      - name: vip
        label: VIP
        when: spend_12m >= 1000
        coverage: {every: 28d, by: [vip_call], counts: [reached]}
      - name: small
        when: spend_12m > 0
      - name: lapsed
        fallback: true
actions:
  - name: vip_call
    when: segment.tier == "vip"
    channel: phone
    holdout: 50%
    cost: 12.5
    outcomes: [reached, no_answer]
    cooldown: 7d
  - name: vip_mail
    when: entered("tier", "vip")
    channel: email
`

// plainRules is a rule set with none of them.
const plainRules = `ruleset: plain
facts:
  spend_12m: number
segmentations:
  - name: size
    segments:
      - name: big
        when: spend_12m >= 2000
      - name: rest
        fallback: true
`

// followUpProject writes a project of the two rule sets on the embedded
// store, reading facts.csv: 40 customers, whose spend is 100 times their
// key; it returns the config's path, migrated, nothing applied.
func followUpProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"rules/shop.yaml":  followUpRules,
		"rules/plain.yaml": plainRules,
		"facts.csv":        spendFacts(func(int) bool { return false }),
		"tierflow.yaml": `database: {path: state.db}
rulesets:
  - rules: rules/shop.yaml
    initial_actions: true
    sources: [{file: facts.csv}]
  - rules: rules/plain.yaml
    sources: [{file: facts.csv}]
`,
	})
	config := filepath.Join(dir, "tierflow.yaml")
	runCLI(t, nil, "migrate", "--config", config).want(t, exitOK)
	return config
}

// spendFacts is facts.csv: customers 1 to 40, spend 100 times the key, 0
// for those lapsed says.
func spendFacts(lapsed func(int) bool) string {
	var b strings.Builder
	b.WriteString("customer_id,spend_12m\n")
	for i := 1; i <= 40; i++ {
		spend := i * 100
		if lapsed(i) {
			spend = 0
		}
		fmt.Fprintf(&b, "%d,%d\n", i, spend)
	}
	return b.String()
}

// applyFollowUps applies the project as of 2024-06-01, then, with
// customers 35 to 40 lapsed, as of 2024-07-01.
func applyFollowUps(t *testing.T, config string) (first, second result) {
	t.Helper()
	first = runCLI(t, nil, "apply", "--quiet", "--as-of", "2024-06-01", "--config", config).want(t, exitOK)
	facts := spendFacts(func(i int) bool { return i >= 35 })
	if err := os.WriteFile(filepath.Join(filepath.Dir(config), "facts.csv"), []byte(facts), 0o644); err != nil {
		t.Fatal(err)
	}
	second = runCLI(t, nil, "apply", "--quiet", "--as-of", "2024-07-01", "--config", config).want(t, exitOK)
	return first, second
}

// An apply shows the withheld actions and the coverage it leaves.
func TestApplyShowsFollowUps(t *testing.T) {
	t.Parallel()
	first, second := applyFollowUps(t, followUpProject(t))
	for _, want := range []string{
		"  vip_call                        19  (12 held out)\n",
		"coverage:\n  segmentation  segment    every  due  covered  pending  overdue  share  covered by\n" +
			"  tier          VIP (vip)    28d   31        0       31        0  0.00%  vip_call (reached)\n",
	} {
		if !strings.Contains(first.stdout, want) {
			t.Errorf("first apply lacks %q:\n%s", want, first.stdout)
		}
	}
	if want := "  tier          VIP (vip)    28d   25        0        0       25  0.00%  vip_call (reached)\n"; !strings.Contains(second.stdout, want) {
		t.Errorf("second apply: its vip customers should all be overdue:\n%s", second.stdout)
	}
	if _, plain, _ := strings.Cut(first.stdout, "Apply for rule set plain"); plain == "" || strings.Contains(plain, "coverage:") || strings.Contains(plain, "held out") {
		t.Errorf("a rule set without follow-up keys shows coverage or withheld actions:\n%s", plain)
	}
	r := runCLI(t, nil, "apply", "--quiet", "--format", "markdown", "--as-of", "2024-07-03", "--config", followUpProject(t)).want(t, exitOK)
	for _, want := range []string{"| action | customers | held out | suppressed |", "#### Coverage\n\n| segmentation | segment | every |"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply --format markdown lacks %q:\n%s", want, r.stdout)
		}
	}
}

// explain --customer shows the customer's coverage and why an action was
// withheld, from the state the applies left.
func TestExplainShowsFollowUps(t *testing.T) {
	t.Parallel()
	config := followUpProject(t)
	applyFollowUps(t, config)
	r := runCLI(t, nil, "explain", "--customer", "30", "--ruleset", "shop", "--as-of", "2024-07-02", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "  coverage: overdue, never covered\n") {
		t.Errorf("explain lacks the coverage state:\n%s", r.stdout)
	}
	r = runCLI(t, nil, "explain", "--customer", "30", "--ruleset", "shop", "--as-of", "2024-07-02", "--format", "json", "--config", config).want(t, exitOK)
	var doc struct {
		Explanations []struct {
			Segmentations []struct {
				Coverage *struct {
					State            string `json:"state"`
					DaysSinceCovered *int   `json:"days_since_covered"`
				} `json:"coverage"`
			} `json:"segmentations"`
		} `json:"explanations"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if c := doc.Explanations[0].Segmentations[0].Coverage; c == nil || c.State != "overdue" || c.DaysSinceCovered != nil {
		t.Errorf("explain --format json: coverage %+v, want overdue, never covered:\n%s", c, r.stdout)
	}
}

func TestCoverage(t *testing.T) {
	t.Parallel()
	config := followUpProject(t)
	r := runCLI(t, nil, "coverage", "--config", config).want(t, exitOK)
	for _, want := range []string{
		"rule set shop: no succeeded apply yet, so no coverage recorded (tierflow apply records it)\n",
		"rule set plain: no succeeded apply yet",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("coverage before any apply lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "No segment declares") {
		t.Errorf("coverage before any apply says no segment declares a target:\n%s", r.stdout)
	}

	applyFollowUps(t, config) // runs 1 (shop) and 2 (plain), then 3 and 4
	r = runCLI(t, nil, "coverage", "--config", config).want(t, exitOK)
	want := "Coverage of rule set shop after run 3, as of 2024-07-01\n" +
		"  segmentation  segment    every  due  covered  pending  overdue  share  covered by\n" +
		"  tier          VIP (vip)    28d   25        0        0       25  0.00%  vip_call (reached)\n" +
		"\nrule set plain: no coverage targets at run 4, as of 2024-07-01\n"
	if r.stdout != want {
		t.Errorf("coverage:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = runCLI(t, nil, "coverage", "plain", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "No segment declares a coverage target.") || strings.Contains(r.stdout, "shop") {
		t.Errorf("coverage plain: the empty state should explain how to declare coverage:\n%s", r.stdout)
	}

	r = runCLI(t, nil, "coverage", "--run", "1", "--format", "json", "--config", config).want(t, exitOK)
	var doc struct {
		FormatVersion int `json:"format_version"`
		RuleSets      []struct {
			RuleSet  string `json:"ruleset"`
			RunID    int64  `json:"run_id"`
			AsOf     string `json:"as_of"`
			Coverage []struct {
				Segment   string  `json:"segment"`
				EveryDays int     `json:"every_days"`
				Due       int     `json:"due"`
				Pending   int     `json:"pending"`
				Share     float64 `json:"share"`
			} `json:"coverage"`
		} `json:"rulesets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("coverage --format json: %v\n%s", err, r.stdout)
	}
	if doc.FormatVersion != 1 || len(doc.RuleSets) != 1 || doc.RuleSets[0].RunID != 1 || doc.RuleSets[0].AsOf != "2024-06-01T00:00:00Z" ||
		len(doc.RuleSets[0].Coverage) != 1 || doc.RuleSets[0].Coverage[0].Pending != 31 || doc.RuleSets[0].Coverage[0].EveryDays != 28 {
		t.Errorf("coverage --run 1 --format json:\n%s", r.stdout)
	}
	r = runCLI(t, nil, "coverage", "shop", "--format", "csv", "--config", config).want(t, exitOK)
	if want := "ruleset,run_id,as_of,segmentation,segment,label,every_days,by,counts,due,covered,pending,overdue,share\n" +
		"shop,3,2024-07-01T00:00:00Z,tier,vip,VIP,28,vip_call,reached,25,0,0,25,0\n"; r.stdout != want {
		t.Errorf("coverage --format csv:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = runCLI(t, nil, "coverage", "--format", "markdown", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "### Coverage: `shop`\n\nAfter run 3, as of 2024-07-01.\n\n| segmentation |") {
		t.Errorf("coverage --format markdown:\n%s", r.stdout)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--run", "99"}, "coverage: --run 99: no such run"},
		{[]string{"--run", "1", "plain"}, "coverage: --run 1 is a run of rule set shop, not plain"},
		{[]string{"nosuch"}, `coverage: no rule set "nosuch" in the config's rulesets`},
		{[]string{"shop", "plain"}, "coverage: give one rule set"},
	} {
		r := runCLI(t, nil, append([]string{"coverage", "--config", config}, tc.args...)...).want(t, exitFailure)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("coverage %v: stderr %q, want %q", tc.args, r.stderr, tc.want)
		}
	}
}

// A run that did not apply has no coverage to show.
func TestCoverageOfBlockedRun(t *testing.T) {
	t.Parallel()
	config := followUpProject(t)
	runCLI(t, nil, "apply", "--quiet", "--as-of", "2024-06-01", "--ruleset", "shop", "--config", config).want(t, exitOK)
	// Everyone lapses: far more than max_moved.
	if err := os.WriteFile(filepath.Join(filepath.Dir(config), "facts.csv"), []byte(spendFacts(func(int) bool { return true })), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLI(t, nil, "apply", "--quiet", "--as-of", "2024-06-02", "--ruleset", "shop", "--config", config).want(t, exitFailure)
	r := runCLI(t, nil, "coverage", "--run", "2", "--config", config).want(t, exitFailure)
	if !strings.Contains(r.stderr, "--run 2 was blocked, so nothing it found was applied") {
		t.Errorf("coverage of a blocked run: %s", r.stderr)
	}
	r = runCLI(t, nil, "coverage", "shop", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "after run 1, as of 2024-06-01") {
		t.Errorf("coverage after a blocked run should show the last succeeded one:\n%s", r.stdout)
	}
}

func TestCoverageFormatError(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"coverage", "effects"} {
		r := runCLI(t, nil, cmd, "--format", "yaml", "--config", filepath.Join(t.TempDir(), "none.yaml")).want(t, exitFailure)
		if want := cmd + `: --format "yaml": use text, json, markdown or csv`; !strings.Contains(r.stderr, want) || r.stdout != "" {
			t.Errorf("%s --format yaml: stderr %q, want %q", cmd, r.stderr, want)
		}
		r = runCLI(t, nil, cmd, "--help").want(t, exitOK)
		if !strings.Contains(r.stdout, "-format format") || !strings.Contains(r.stdout, "docs/follow-ups.md") {
			t.Errorf("%s --help:\n%s", cmd, r.stdout)
		}
	}
}

// Without a config, coverage and effects say so, and create no store.
func TestCoverageWithoutConfig(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{{"coverage"}, {"coverage", "--run", "1"}, {"effects"}} {
		r := runCLI(t, nil, args...).want(t, exitFailure)
		if !strings.Contains(r.stderr, "no tierflow.yaml in ") {
			t.Errorf("%v without a config: %s", args, r.stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("coverage and effects without a config created %v", entries)
	}
}
