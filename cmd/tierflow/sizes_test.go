package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSizes(t *testing.T) {
	t.Parallel()
	config := followUpProject(t)
	r := runCLI(t, nil, "sizes", "shop", "--config", config).want(t, exitOK)
	if want := "rule set shop: no succeeded apply from 2024-04-02 15:04 to 2024-07-01 15:04, so no class sizes of tier (tierflow apply records them)\n"; r.stdout != want {
		t.Errorf("sizes before any apply:\n%s\nwant\n%s", r.stdout, want)
	}

	applyFollowUps(t, config)
	r = runCLI(t, nil, "sizes", "--config", config).want(t, exitOK)
	want := `Class sizes of tier in rule set shop, after each succeeded apply from 2024-04-02 15:04 to 2024-07-01 15:04
  run  as of       VIP (vip)  small  lapsed  total
    1  2024-06-01         31      9       0     40
    3  2024-07-01         25      9       6     40

Class sizes of size in rule set plain, after each succeeded apply from 2024-04-02 15:04 to 2024-07-01 15:04
  run  as of       big  rest  total
    2  2024-06-01   21    19     40
    4  2024-07-01   15    25     40
`
	if r.stdout != want {
		t.Errorf("sizes:\n%s\nwant\n%s", r.stdout, want)
	}
	r = runCLI(t, nil, "sizes", "--segmentation", "size", "--config", config).want(t, exitOK)
	if strings.Contains(r.stdout, "rule set shop") || !strings.Contains(r.stdout, "Class sizes of size in rule set plain") {
		t.Errorf("sizes --segmentation size: only plain has it:\n%s", r.stdout)
	}

	// The applies are as of 2024-06-01 and 2024-07-01 (all run on the
	// tests' clock, 2024-07-01 15:04): the period goes by as-of, and a day
	// without a time includes the whole day.
	for until, rows := range map[string]int{"2024-05-31": 0, "2024-06-01": 1, "2024-06-30T23:00:00Z": 1, "2024-07-01": 2} {
		doc := sizesJSON(t, "shop", "--until", until, "--since", "2024-01-01", "--config", config)
		if len(doc.Tables) != 1 || len(doc.Tables[0].Runs) != rows {
			t.Errorf("sizes --until %s: %+v; want %d applies", until, doc.Tables, rows)
		}
	}
	doc := sizesJSON(t, "shop", "--config", config)
	tier := doc.Tables[0]
	if doc.FormatVersion != 1 || tier.Segmentation != "tier" || len(tier.Segments) != 3 || tier.Segments[0].Label != "VIP" ||
		len(tier.Runs) != 2 || tier.Runs[1].Total != 40 || tier.Runs[1].Customers[2] != 6 || tier.Until != "2024-07-01T15:04:05Z" {
		t.Errorf("sizes --format json: %+v", doc)
	}
	r = runCLI(t, nil, "sizes", "shop", "--format", "csv", "--config", config).want(t, exitOK)
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 7 || lines[0] != "ruleset,segmentation,run_id,as_of,segment,label,rank,customers" ||
		lines[6] != "shop,tier,3,2024-07-01T00:00:00Z,lapsed,,3,6" {
		t.Errorf("sizes --format csv:\n%s", r.stdout)
	}
	r = runCLI(t, nil, "sizes", "shop", "--format", "markdown", "--config", config).want(t, exitOK)
	if !strings.Contains(r.stdout, "| run | as of | VIP (`vip`) | `small` | `lapsed` | total |\n|--:|---|--:|--:|--:|--:|\n| 1 | 2024-06-01 | 31 | 9 | 0 | 40 |") {
		t.Errorf("sizes --format markdown:\n%s", r.stdout)
	}
}

func TestSizesErrors(t *testing.T) {
	t.Parallel()
	config := followUpProject(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"shop", "--segmentation", "size"}, `sizes: --segmentation "size": rule set shop has no such segmentation (it has tier)`},
		{[]string{"--segmentation", "nope"}, `sizes: --segmentation "nope": no configured rule set has it`},
		{[]string{"--since", "lately"}, `sizes: --since "lately": give a duration (90d, 26w) or a date (2024-04-01)`},
		{[]string{"--since", "2024-07-01", "--until", "2024-06-01"}, "sizes: --until 2024-06-01 is before --since 2024-07-01"},
		{[]string{"--until", "soon"}, `sizes: --until: "soon" is not a date`},
		{[]string{"nosuch"}, `no rule set "nosuch"`},
		{[]string{"--format", "yaml"}, `sizes: --format "yaml": use text, json, markdown or csv`},
	} {
		r := runCLI(t, nil, append(append([]string{"sizes"}, tc.args...), "--config", config)...).want(t, exitFailure)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("sizes %q: %s\nwant %q", tc.args, r.stderr, tc.want)
		}
	}
	if r := runCLI(t, nil, "sizes", "--help").want(t, exitOK); !strings.Contains(r.stdout, "Examples:\n  tierflow sizes") || !strings.Contains(r.stdout, "-segmentation") {
		t.Errorf("sizes --help:\n%s", r.stdout)
	}
}

// sizesDoc is what the tests read of sizes' JSON.
type sizesDoc struct {
	FormatVersion int `json:"format_version"`
	Tables        []struct {
		RuleSet      string `json:"ruleset"`
		Until        string `json:"until"`
		Segmentation string `json:"segmentation"`
		Segments     []struct {
			Name  string `json:"name"`
			Label string `json:"label"`
			Rank  int    `json:"rank"`
		} `json:"segments"`
		Runs []struct {
			RunID     int64 `json:"run_id"`
			Customers []int `json:"customers"`
			Total     int   `json:"total"`
		} `json:"runs"`
	} `json:"tables"`
}

func sizesJSON(t *testing.T, args ...string) sizesDoc {
	t.Helper()
	r := runCLI(t, nil, append([]string{"sizes", "--format", "json"}, args...)...).want(t, exitOK)
	var doc sizesDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("sizes --format json: %v\n%s", err, r.stdout)
	}
	return doc
}
