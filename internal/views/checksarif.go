package views

import "github.com/tierflow/tierflow/rules"

// The SARIF version tierflow check writes, and its schema.
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	// srcRoot is the base the artifact URIs are relative to: the
	// directory check ran in.
	srcRoot = "%SRCROOT%"
)

// sarifLog is a SARIF 2.1.0 log with one run: only the properties
// tierflow fills, all of them defined by the standard.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                   `json:"tool"`
	OriginalURIBaseIDs map[string]sarifArtifactLoc `json:"originalUriBaseIds,omitempty"`
	ColumnKind         string                      `json:"columnKind"`
	Results            []sarifResult               `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name"`
	ShortDescription     sarifText       `json:"shortDescription"`
	Help                 sarifText       `json:"help"`
	DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLoc `json:"artifactLocation"`
	Region           *sarifRegion     `json:"region,omitempty"`
}

type sarifArtifactLoc struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

// sarifRegion positions are 1-based, columns in Unicode code points (the
// run's columnKind).
type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

func newSARIF(run *CheckRun) sarifLog {
	r := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: "tierflow", Version: run.Version,
			InformationURI: "https://github.com/tierflow/tierflow/blob/main/docs/rules.md",
			Rules:          make([]sarifRule, len(diagKinds)),
		}},
		ColumnKind: "unicodeCodePoints",
		Results:    []sarifResult{},
	}
	if run.Dir != "" {
		r.OriginalURIBaseIDs = map[string]sarifArtifactLoc{srcRoot: {URI: dirURI(run.Dir)}}
	}
	for i, k := range diagKinds {
		r.Tool.Driver.Rules[i] = sarifRule{ID: k.ID, Name: k.Name, ShortDescription: sarifText{k.Short},
			Help: sarifText{k.Help}, DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(k.Warning)}}
	}
	for _, d := range run.Diagnostics {
		r.Results = append(r.Results, newSARIFResult(run, d))
	}
	return sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{r}}
}

func sarifLevel(warning bool) string {
	if warning {
		return "warning"
	}
	return "error"
}

// newSARIFResult is one diagnostic as a result. A position the rules do
// not know is the file's first line: code scanning needs a line.
func newSARIFResult(run *CheckRun, d rules.Diagnostic) sarifResult {
	k := kindOf(d)
	res := sarifResult{RuleID: k.ID, RuleIndex: kindIndex(k), Level: sarifLevel(d.Severity == rules.SeverityWarning),
		Message: sarifText{annotationText(d)}, Locations: []sarifLocation{}}
	if d.Pos.File == "" {
		return res
	}
	uri, relative := fileURI(run.Dir, d.Pos.File)
	loc := sarifArtifactLoc{URI: uri}
	if relative && run.Dir != "" {
		loc.URIBaseID = srcRoot
	}
	region := &sarifRegion{StartLine: max(d.Pos.Line, 1)}
	if d.Pos.Line > 0 && d.Pos.Col > 0 {
		region.StartColumn = d.Pos.Col
	}
	res.Locations = append(res.Locations, sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: loc, Region: region}})
	return res
}

// annotationText is a diagnostic's text without its position and
// snippet: the field, the message and the hint.
func annotationText(d rules.Diagnostic) string {
	s := d.Message
	if d.Field != "" {
		s = d.Field + ": " + s
	}
	if d.Hint != "" {
		s += " (" + d.Hint + ")"
	}
	return s
}
