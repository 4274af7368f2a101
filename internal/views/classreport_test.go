package views

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
)

var (
	night1 = time.Date(2024, 6, 30, 2, 0, 0, 0, time.UTC)
	night2 = night1.AddDate(0, 0, 1)
)

// classReportFixture is two nights of a rule set with a tier and churn:
// a succeeded apply, a blocked one and another succeeded one.
func classReportFixture() *jobs.ClassReport {
	tier := jobs.ReportSegmentation{Name: "value_tier", Label: "客户价值等级", Segments: []jobs.ReportSegment{
		{Name: "vip", Label: "VIP 客户", Rank: 1}, {Name: "regular", Rank: 2}}}
	cov := jobs.CoverageReport{Segmentation: "value_tier", Segment: "vip", Label: "VIP 客户", EveryDays: 28,
		By: []string{"vip_care_visit"}, Counts: []string{"reached"}, Due: 120, Covered: 80, Pending: 10, Overdue: 30, Share: 80.0 / 120}
	cov2 := cov
	cov2.Due, cov2.Covered, cov2.Overdue, cov2.Share = 118, 90, 18, 90.0/118
	return &jobs.ClassReport{FormatVersion: 1, RuleSet: "retail", Label: "零售客户分群", From: night1.Add(-2 * time.Hour), Until: night2.Add(time.Hour),
		Segmentations: []jobs.ReportSegmentation{tier, {Name: "lifecycle", Segments: []jobs.ReportSegment{{Name: "churned", Rank: 1}, {Name: "active", Rank: 2}}}},
		Runs: []jobs.ReportRun{
			{ID: 7, Kind: "scheduled", AsOf: night1, Status: jobs.StatusSucceeded, Started: night1, Seconds: 12.5, Customers: 1000, Changed: 40, Actions: 6},
			{ID: 8, Kind: "apply", AsOf: night1, Status: jobs.StatusBlocked, Started: night1.Add(time.Hour), Seconds: 0.25, Customers: 1000, Changed: 900,
				Errors: 3, ErrorsByRule: map[string]int{"segmentations.value_tier.vip.when": 3},
				GuardReasons: []string{"900 of 1000 customers (90.0%) would change segment, more than the limit of 20.0%"},
				Error:        "900 of 1000 customers (90.0%) would change segment, more than the limit of 20.0%"},
			{ID: 9, Kind: "scheduled", AsOf: night2, Status: jobs.StatusSucceeded, Started: night2, Seconds: 11, Customers: 1000, Changed: 5, Actions: 1},
		},
		Sizes: []jobs.SizePoint{
			{RunID: 7, AsOf: night1, Segmentation: "value_tier", Segment: "vip", Customers: 120},
			{RunID: 7, AsOf: night1, Segmentation: "value_tier", Segment: "regular", Customers: 880},
			{RunID: 9, AsOf: night2, Segmentation: "value_tier", Segment: "vip", Customers: 118},
			{RunID: 9, AsOf: night2, Segmentation: "value_tier", Segment: "regular", Customers: 882},
		},
		Moves: []jobs.MoveCell{
			{Scope: "latest", RunID: 9, Segmentation: "value_tier", From: "vip", To: "regular", Count: 2, Direction: "down"},
			{Scope: "period", Segmentation: "value_tier", From: "vip", To: "regular", Count: 2, Direction: "down"},
			{Scope: "period", Segmentation: "value_tier", From: "", To: "vip", Count: 120, Direction: "in"},
		},
		Churn: &jobs.ChurnReport{Segmentation: "lifecycle", Segment: "churned",
			Definition: "Churn rate of a class in a period: the customers who entered lifecycle.churned during the period while in the class.",
			Rates: []jobs.ChurnRate{{PeriodStart: night1.Add(-2 * time.Hour), PeriodEnd: night2.Add(time.Hour), Segmentation: "value_tier",
				Segment: "regular", AtStart: 880, Churned: 11, Rate: 0.0125, Applies: 2}}},
		Actions: []jobs.ActionClassCount{
			{Action: "winback_call", Segmentation: "value_tier", Segment: "vip", Status: "done", Count: 4},
			{Action: "winback_call", Segmentation: "value_tier", Segment: "", Status: "held_out", Count: 1},
		},
		Coverage: []jobs.CoveragePoint{{RunID: 7, AsOf: night1, CoverageReport: cov}, {RunID: 9, AsOf: night2, CoverageReport: cov2}},
		Effects:  effectsFixture()[0],
	}
}

// runSegmentsFixture is the class sizes after run 12 of runsFixture.
func runSegmentsFixture() RunSegments {
	return RunSegments{12: {
		{Name: "value_tier", Segments: []jobs.SegmentReport{{Name: "vip", After: 1200}, {Name: "regular", After: 18800}, {Name: "(removed)", Before: 3}}},
		{Name: "lifecycle", Segments: []jobs.SegmentReport{{Name: "churned", After: 6000}, {Name: "active", After: 14000}}},
	}}
}

// sizesFixture is two nights of a tier, and a rule set without applies.
func sizesFixture() []SizesTable {
	tier := jobs.ReportSegmentation{Name: "value_tier", Label: "客户价值等级", Segments: []jobs.ReportSegment{
		{Name: "vip", Label: "VIP 客户", Rank: 1}, {Name: "key", Label: "重点客户", Rank: 2}, {Name: "small", Rank: 3}}}
	return []SizesTable{
		{RuleSet: "retail", RuleSetLabel: "零售客户分群", From: asOf.AddDate(0, 0, -180), Until: night2, Segmentation: tier, Rows: []SizesRow{
			{RunID: 7, AsOf: night1, Customers: []int{1200, 3400, 15400}},
			{RunID: 9, AsOf: night2, Customers: []int{1188, 3420, 15500}},
		}},
		{RuleSet: "b2b", From: asOf.AddDate(0, 0, -180), Until: asOf, Segmentation: jobs.ReportSegmentation{Name: "tier",
			Segments: []jobs.ReportSegment{{Name: "key", Rank: 1}}}},
	}
}

// Each table of a class report's CSV matches its golden file and its
// documented columns, and reads back with encoding/csv.
func TestClassReportCSV(t *testing.T) {
	rep := classReportFixture()
	for _, table := range ClassReportCSVTables {
		t.Run(table, func(t *testing.T) {
			var b bytes.Buffer
			if err := ClassReportCSV(&b, rep, table); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "classreport-"+table+".csv.golden")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, b.Bytes(), want)
			}
			rows, err := csv.NewReader(&b).ReadAll()
			if err != nil || len(rows) < 2 || !slices.Equal(rows[0], ClassReportCSVColumns[table]) {
				t.Errorf("CSV of %s: %v, header %v, want %v and rows", table, err, rows[0], ClassReportCSVColumns[table])
			}
		})
	}
	if err := ClassReportCSV(&bytes.Buffer{}, rep, "segments"); err == nil || !strings.Contains(err.Error(), "use runs, sizes, moves, churn, actions, coverage, effects") {
		t.Errorf("an unknown table: %v", err)
	}
	if len(ClassReportCSVColumns) != len(ClassReportCSVTables) {
		t.Errorf("%d tables with columns, %d tables", len(ClassReportCSVColumns), len(ClassReportCSVTables))
	}
}

// Every CSV column of a class report is documented, in the table of its
// table in docs/output.md.
func TestClassReportCSVDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/output.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range ClassReportCSVTables {
		line := "`" + table + "`: `" + strings.Join(ClassReportCSVColumns[table], ",") + "`"
		if table == "effects" {
			line = "`effects`: the columns of `tierflow effects --format csv`"
		}
		if !strings.Contains(string(doc), line) {
			t.Errorf("docs/output.md does not list the columns of %s as %s", table, line)
		}
	}
}

// An empty report's JSON has its lists, as [].
func TestClassReportJSONEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := ClassReportJSON(&b, &jobs.ClassReport{FormatVersion: 1, RuleSet: "x", Churn: &jobs.ChurnReport{}, Effects: &jobs.EffectsReport{}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"runs": []`, `"sizes": []`, `"moves": []`, `"actions": []`, `"coverage": []`, `"segmentations": []`,
		`"rates": []`, `"effects": []`, `"costs": []`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %s in\n%s", want, b.String())
		}
	}
}
