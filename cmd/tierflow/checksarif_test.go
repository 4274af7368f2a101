package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// sarifDoc holds the properties of a SARIF 2.1.0 log that code scanning
// requires, and those tierflow promises (docs/output.md).
type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name, Version, InformationURI string
				Rules                         []struct {
					ID                   string
					Name                 string
					ShortDescription     struct{ Text string }
					DefaultConfiguration struct{ Level string }
				}
			}
		}
		OriginalURIBaseIDs map[string]struct{ URI string } `json:"originalUriBaseIds"`
		ColumnKind         string                          `json:"columnKind"`
		Results            []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex *int   `json:"ruleIndex"`
			Level     string
			Message   struct{ Text string }
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					}
					Region *struct {
						StartLine   int
						StartColumn int
					}
				}
			}
		}
	}
}

// validate checks the structure SARIF 2.1.0 requires of a log: its
// version, one run whose driver is named, results whose rule is one of
// the driver's rules at ruleIndex, a level, a message, and a location
// with a URI and 1-based positions.
func (d *sarifDoc) validate(t *testing.T) {
	t.Helper()
	if d.Version != "2.1.0" || !strings.Contains(d.Schema, "sarif-schema-2.1.0.json") || len(d.Runs) != 1 {
		t.Fatalf("not a SARIF 2.1.0 log with one run: %q %q, %d runs", d.Version, d.Schema, len(d.Runs))
	}
	run := d.Runs[0]
	drv := run.Tool.Driver
	if drv.Name != "tierflow" || drv.Version == "" || drv.InformationURI == "" || len(drv.Rules) == 0 {
		t.Errorf("driver: %+v", drv)
	}
	if run.ColumnKind != "unicodeCodePoints" {
		t.Errorf("columnKind %q", run.ColumnKind)
	}
	ids := map[string]bool{}
	for _, r := range drv.Rules {
		if r.ID == "" || ids[r.ID] || r.ShortDescription.Text == "" || (r.DefaultConfiguration.Level != "error" && r.DefaultConfiguration.Level != "warning") {
			t.Errorf("rule %+v: empty, repeated or without a level", r)
		}
		ids[r.ID] = true
	}
	for i, res := range run.Results {
		if res.RuleIndex == nil || *res.RuleIndex < 0 || *res.RuleIndex >= len(drv.Rules) || drv.Rules[*res.RuleIndex].ID != res.RuleID {
			t.Errorf("result %d: ruleId %q is not the rule at ruleIndex %v", i, res.RuleID, res.RuleIndex)
		}
		if (res.Level != "error" && res.Level != "warning") || res.Message.Text == "" || len(res.Locations) != 1 {
			t.Errorf("result %d: level %q, message %q, %d locations", i, res.Level, res.Message.Text, len(res.Locations))
			continue
		}
		pl := res.Locations[0].PhysicalLocation
		if pl.ArtifactLocation.URI == "" || pl.Region == nil || pl.Region.StartLine < 1 || pl.Region.StartColumn < 0 {
			t.Errorf("result %d: location %+v", i, pl)
		}
		if b := pl.ArtifactLocation.URIBaseID; b != "" {
			if _, ok := run.OriginalURIBaseIDs[b]; !ok || !strings.HasPrefix(run.OriginalURIBaseIDs[b].URI, "file:///") || !strings.HasSuffix(run.OriginalURIBaseIDs[b].URI, "/") {
				t.Errorf("result %d: uriBaseId %q not defined as an absolute directory: %v", i, b, run.OriginalURIBaseIDs)
			}
		}
	}
}

// check --format sarif is a valid SARIF 2.1.0 log whose results are the
// text's diagnostics, on the same lines and columns, with URIs relative
// to the working directory.
func TestCheckFormatSARIF(t *testing.T) {
	checkProject(t)
	text := runCLI(t, nil, "check", "rules").want(t, exitFailure)
	r := runCLI(t, nil, "check", "--format", "sarif", "rules").want(t, exitFailure)
	var doc sarifDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	doc.validate(t)
	want := textPositions(t, text.stderr)
	res := doc.Runs[0].Results
	if len(res) != len(want) {
		t.Fatalf("%d results, the text has %d diagnostics", len(res), len(want))
	}
	levels := ""
	for i, x := range res {
		loc := x.Locations[0].PhysicalLocation
		got := textPosition{loc.ArtifactLocation.URI, loc.Region.StartLine, loc.Region.StartColumn}
		if got != want[i] || loc.ArtifactLocation.URIBaseID != "%SRCROOT%" {
			t.Errorf("result %d at %v (base %q), the text says %v", i, got, loc.ArtifactLocation.URIBaseID, want[i])
		}
		levels += x.Level[:1]
	}
	if levels != "eew" {
		t.Errorf("levels %q: want two errors and a warning", levels)
	}
	line, col := runeColumn(t, badShop, "chanel")
	found := false
	for _, x := range res {
		reg := x.Locations[0].PhysicalLocation.Region
		if strings.Contains(x.Message.Text, `unknown name "chanel"`) {
			found = reg.StartLine == line && reg.StartColumn == col && x.RuleID == "unknown-name"
		}
	}
	if !found {
		t.Errorf("the unknown name is not a result at %d:%d (in characters) of rule unknown-name:\n%s", line, col, r.stdout)
	}

	// A file outside the working directory gets an absolute file: URI;
	// a clean file, a log with no results.
	outside := filepath.Join(t.TempDir(), "shop.yaml")
	writeFiles(t, filepath.Dir(outside), map[string]string{"shop.yaml": badShop})
	r = runCLI(t, nil, "check", "--format", "sarif", outside).want(t, exitFailure)
	doc = sarifDoc{}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	doc.validate(t)
	if uri := doc.Runs[0].Results[0].Locations[0].PhysicalLocation.ArtifactLocation; !strings.HasPrefix(uri.URI, "file:///") || uri.URIBaseID != "" {
		t.Errorf("a file outside the working directory: %+v", uri)
	}
	r = runCLI(t, nil, "check", "--format", "sarif", "rules/retail.yaml").want(t, exitOK)
	doc = sarifDoc{}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Runs) != 1 || len(doc.Runs[0].Results) != 0 {
		t.Errorf("a clean file: %v\n%s", err, r.stdout)
	}
	doc.validate(t)
}
