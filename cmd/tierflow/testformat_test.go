package main

import (
	"encoding/json"
	"encoding/xml"
	"path/filepath"
	"strings"
	"testing"
)

// paramShop has a failing case whose rules read two params, and a
// passing one; lapsed is never matched.
const paramShop = `ruleset: shop
params:
  vip_spend: 50000
  vip_regions: [east, north]
  lapsed_days: 400
facts:
  spend_12m: number
  region: string
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend_12m >= params.vip_spend && region in params.vip_regions
      - name: lapsed
        when: spend_12m < 0 && params.lapsed_days > 0
      - name: other
        fallback: true
tests:
  - name: a vip in the east
    as_of: 2024-07-01
    facts: {spend_12m: 60000, region: east}
    expect: {segments: {tier: other}}
  - name: small spender
    as_of: 2024-07-01
    facts: {spend_12m: 10, region: west}
    expect: {segments: {tier: other}}
`

func paramProject(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	writeFiles(t, dir, map[string]string{"rules/shop.yaml": paramShop, "broken/broken.yaml": "ruleset: broken\nfacts: [oops]\n"})
	return dir
}

// A failing case lists the params its rules read, name = value, between
// what differed and the trace; a passing case does not.
func TestFailingCaseShowsParams(t *testing.T) {
	t.Parallel()
	dir := paramProject(t)
	r := runCLI(t, nil, "test", filepath.Join(dir, "rules")).want(t, exitFailure)
	want := "    tier: expected other, got vip\n" +
		`    params: vip_spend = 50000, vip_regions = ["east", "north"]` + "\n" +
		"    how it was classified:\n"
	if !strings.Contains(r.stdout, want) {
		t.Errorf("the failing case lacks its params:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "lapsed_days") {
		t.Errorf("a param of a rule that was not reached is listed:\n%s", r.stdout)
	}
}

// test --format json lists every case with the failure detail and the
// params of the failing one, and the coverage figures the text prints.
func TestTestFormatJSON(t *testing.T) {
	t.Parallel()
	dir := paramProject(t)
	text := runCLI(t, nil, "test", "--min-coverage", "90", filepath.Join(dir, "rules")).want(t, exitFailure)
	r := runCLI(t, nil, "test", "--min-coverage", "90", "--format", "json", filepath.Join(dir, "rules")).want(t, exitFailure)
	var doc struct {
		FormatVersion int  `json:"format_version"`
		Failed        bool `json:"failed"`
		Cases         int  `json:"cases"`
		FailedCases   int  `json:"failed_cases"`
		RuleSets      []struct {
			RuleSet, File string
			Coverage      struct {
				Percent    float64  `json:"percent"`
				Rules      int      `json:"rules"`
				Covered    int      `json:"covered"`
				Uncovered  []string `json:"uncovered"`
				MinPercent *float64 `json:"min_percent"`
				Met        *bool    `json:"met"`
			}
			Tests []struct {
				Name, File string
				Line       int
				Passed     bool
				Failures   []string
				Params     []struct {
					Name  string
					Value any
				}
				Trace *struct {
					Customer      string
					Segmentations []struct{ Name string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	if doc.FormatVersion != 1 || !doc.Failed || doc.Cases != 2 || doc.FailedCases != 1 || len(doc.RuleSets) != 1 {
		t.Fatalf("document: %+v", doc)
	}
	rs := doc.RuleSets[0]
	cov := rs.Coverage
	if cov.Rules != 3 || cov.Covered != 2 || cov.Percent != 66.67 || strings.Join(cov.Uncovered, ",") != "tier.lapsed" ||
		cov.MinPercent == nil || *cov.MinPercent != 90 || cov.Met == nil || *cov.Met {
		t.Errorf("coverage: %+v", cov)
	}
	if !strings.Contains(text.stdout, "rule coverage 67% (3 rules)") || !strings.Contains(text.stdout, "never matched by a case: tier.lapsed") {
		t.Errorf("the text's coverage figures differ:\n%s", text.stdout)
	}
	failing, passing := rs.Tests[0], rs.Tests[1]
	if failing.Passed || failing.Line != 19 || !strings.HasSuffix(failing.File, "shop.yaml") ||
		strings.Join(failing.Failures, "|") != "tier: expected other, got vip" ||
		len(failing.Params) != 2 || failing.Params[0].Name != "vip_spend" || failing.Params[0].Value != float64(50000) ||
		failing.Trace == nil || len(failing.Trace.Segmentations) != 1 {
		t.Errorf("the failing case: %+v", failing)
	}
	if !passing.Passed || len(passing.Failures) != 0 || len(passing.Params) != 0 || passing.Trace != nil {
		t.Errorf("the passing case: %+v", passing)
	}
	// Without --min-coverage and with every case passing: exit 0,
	// coverage not judged.
	r = runCLI(t, nil, "test", "--format", "json", "--run", "small", filepath.Join(dir, "rules")).want(t, exitOK)
	if !strings.Contains(r.stdout, `"failed": false`) || !strings.Contains(r.stdout, `"met": null`) {
		t.Errorf("--run small:\n%s", r.stdout)
	}
}

// junitDoc is what test-report tools read of a JUnit XML report.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Time       string `xml:"time,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			ClassName string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// test --format junit is well-formed JUnit XML: a testsuite per rule
// file with its counts and coverage, the failure's detail, a rule file
// that does not load as an error, and low coverage as a failing case.
func TestTestFormatJUnit(t *testing.T) {
	t.Parallel()
	dir := paramProject(t)
	r := runCLI(t, nil, "test", "--min-coverage", "90", "--format", "junit",
		filepath.Join(dir, "rules"), filepath.Join(dir, "broken")).want(t, exitFailure)
	if !strings.HasPrefix(r.stdout, `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("no XML declaration:\n%s", r.stdout)
	}
	var doc junitDoc
	if err := xml.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, r.stdout)
	}
	if doc.Tests != 4 || doc.Failures != 2 || doc.Errors != 1 || len(doc.Suites) != 2 {
		t.Fatalf("counts: %d tests, %d failures, %d errors, %d suites, want 4, 2, 1, 2:\n%s", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites), r.stdout)
	}
	broken, shop := doc.Suites[0], doc.Suites[1]
	if broken.Errors != 1 || len(broken.Cases) != 1 || broken.Cases[0].Error == nil || !strings.Contains(broken.Cases[0].Error.Text, "broken.yaml:2:") {
		t.Errorf("the rule file that does not load: %+v", broken)
	}
	props := map[string]string{}
	for _, p := range shop.Properties {
		props[p.Name] = p.Value
	}
	if shop.Name != "shop" || shop.Tests != 3 || shop.Failures != 2 || shop.Time != "0" ||
		props["coverage_percent"] != "66.67" || props["rules"] != "3" || props["uncovered"] != "tier.lapsed" || props["min_coverage"] != "90" {
		t.Errorf("the shop suite: %+v, properties %v", shop, props)
	}
	f := shop.Cases[0].Failure
	if shop.Cases[0].ClassName != "shop" || f == nil || f.Message != "tier: expected other, got vip" ||
		!strings.Contains(f.Text, `params: vip_spend = 50000, vip_regions = ["east", "north"]`) || !strings.Contains(f.Text, "how it was classified:\n  tier: ") {
		t.Errorf("the failing case: %+v", shop.Cases[0])
	}
	if shop.Cases[1].Failure != nil || shop.Cases[2].Name != "rule coverage" || shop.Cases[2].Failure == nil || shop.Cases[2].Failure.Type != "coverage" {
		t.Errorf("the passing case and the coverage case: %+v", shop.Cases[1:])
	}
	// Every case passing, coverage met: exit 0 and no failure.
	r = runCLI(t, nil, "test", "--format", "junit", "../../examples").want(t, exitOK)
	doc = junitDoc{}
	if err := xml.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Failures != 0 || doc.Tests == 0 || len(doc.Suites) != 4 {
		t.Errorf("the examples: %v, %d tests, %d failures, %d suites", err, doc.Tests, doc.Failures, len(doc.Suites))
	}
}
