package jobs_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// reportRules is a tier and a lifecycle with churn.
const reportRules = `
ruleset: shop
label: Shop
facts: {spend: number}
churn: lifecycle.churned
segmentations:
  - name: tier
    label: Tier
    segments:
      - {name: vip, label: VIP, when: spend > 100}
      - {name: small, fallback: true}
  - name: lifecycle
    segments:
      - {name: churned, when: spend < 0}
      - {name: active, fallback: true}
actions:
  - name: call
    when: entered("tier", "vip")
  - name: mail
    when: entered("tier", "small")
`

// fakeSource is a ReportSource of runs and counts held in memory, which
// ignores the bounds: they are the store's business.
type fakeSource struct {
	runs   []jobs.RunRecord
	counts []jobs.ActionCount
	err    error
}

func (f *fakeSource) RunRecords(_ context.Context, _ string, _, _ time.Time, fn func(*jobs.RunRecord) error) error {
	for i := range f.runs {
		if err := fn(&f.runs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) ActionCounts(_ context.Context, _ string, _, _ time.Time, fn func(*jobs.ActionCount) error) error {
	if f.err != nil {
		return f.err
	}
	for i := range f.counts {
		if err := fn(&f.counts[i]); err != nil {
			return err
		}
	}
	return nil
}

var day0 = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// segReport is one segment's sizes and churn in a stored report.
func segReport(name string, before, after int, churned *int) jobs.SegmentReport {
	return jobs.SegmentReport{Name: name, Before: before, After: after, Churned: churned}
}

// shopRun is a succeeded apply on day d: tier and lifecycle as given.
func shopRun(id int64, d int, tier, life []jobs.SegmentReport, tierMoves []jobs.MoveReport) jobs.RunRecord {
	at := day0.AddDate(0, 0, d)
	return jobs.RunRecord{ID: id, Kind: "scheduled", AsOf: at, Status: jobs.StatusSucceeded, Started: at.Add(time.Hour),
		Finished: at.Add(time.Hour + 1500*time.Millisecond), Customers: 10, Report: &jobs.PlanReport{Mode: "apply",
			Segmentations: []jobs.SegmentationReport{{Name: "tier", Segments: tier, Moves: tierMoves},
				{Name: "lifecycle", Segments: life}, {Name: "gone", Segments: []jobs.SegmentReport{segReport("x", 1, 1, nil)}}},
			Coverage: []jobs.CoverageReport{{Segmentation: "tier", Segment: "vip", Due: tier[0].After}}}}
}

func shopRuleSet(t *testing.T) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Compile("shop.yaml", []byte(reportRules), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// fakeShop is three succeeded applies, 10 days apart, fed out of as-of
// order (a run by hand for an earlier day started last), with a blocked
// run between them.
func fakeShop() *fakeSource {
	one, two := ptr(1), ptr(2)
	r1 := shopRun(1, 0, []jobs.SegmentReport{segReport("vip", 0, 3, nil), segReport("small", 0, 7, nil)},
		[]jobs.SegmentReport{segReport("churned", 0, 0, ptr(0)), segReport("active", 0, 10, ptr(0))},
		[]jobs.MoveReport{{From: "", To: "small", Count: 7}, {From: "", To: "vip", Count: 3}})
	r3 := shopRun(3, 20, []jobs.SegmentReport{segReport("vip", 4, 2, two), segReport("small", 6, 8, one), segReport("(removed)", 1, 0, nil)},
		[]jobs.SegmentReport{segReport("churned", 1, 4, ptr(0)), segReport("active", 9, 6, ptr(3))},
		[]jobs.MoveReport{{From: "vip", To: "small", Count: 2}, {From: "(removed)", To: "small", Count: 1}})
	r4 := shopRun(4, 10, []jobs.SegmentReport{segReport("vip", 3, 4, nil), segReport("small", 7, 6, nil)},
		[]jobs.SegmentReport{segReport("churned", 0, 1, nil), segReport("active", 10, 9, nil)},
		[]jobs.MoveReport{{From: "small", To: "vip", Count: 1}})
	r4.Started = day0.AddDate(0, 0, 25)
	blocked := jobs.RunRecord{ID: 2, Kind: "apply", AsOf: day0.AddDate(0, 0, 5), Status: jobs.StatusBlocked, Started: day0.AddDate(0, 0, 5),
		Report: &jobs.PlanReport{Errors: jobs.ErrorReport{ByRule: map[string]int{"tier.vip.when": 2}},
			Guard: jobs.GuardReport{Blocked: true, Reasons: []string{"too many moves"}}}, Error: "too many moves"}
	return &fakeSource{runs: []jobs.RunRecord{r1, blocked, r3, r4}, counts: []jobs.ActionCount{
		{Action: "mail", Status: jobs.ActionDone, Segments: map[string]string{"tier": "small", "lifecycle": "active"}, Count: 4},
		{Action: "call", Status: jobs.ActionHeldOut, Segments: map[string]string{"tier": "vip"}, Count: 1},
		{Action: "call", Status: jobs.ActionPending, Segments: map[string]string{"tier": "vip", "lifecycle": "active"}, Count: 2},
		{Action: "call", Status: jobs.ActionPending, Segments: map[string]string{"tier": "vip", "lifecycle": "churned"}, Count: 1},
		{Action: "legacy", Status: jobs.ActionPending, Segments: map[string]string{}, Count: 5},
	}}
}

func TestClassReport(t *testing.T) {
	t.Parallel()
	rep, err := jobs.BuildClassReport(context.Background(), fakeShop(), shopRuleSet(t),
		jobs.ClassReportOptions{From: day0, Period: 15 * 24 * time.Hour, Effects: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("header", func(t *testing.T) {
		if rep.FormatVersion != 1 || rep.RuleSet != "shop" || rep.Label != "Shop" || !rep.Until.Equal(day0.AddDate(0, 0, 25)) {
			t.Errorf("header %d %q %q until %s; want until the latest start", rep.FormatVersion, rep.RuleSet, rep.Label, rep.Until)
		}
		want := []jobs.ReportSegmentation{
			{Name: "tier", Label: "Tier", Segments: []jobs.ReportSegment{{Name: "vip", Label: "VIP", Rank: 1}, {Name: "small", Rank: 2}}},
			{Name: "lifecycle", Segments: []jobs.ReportSegment{{Name: "churned", Rank: 1}, {Name: "active", Rank: 2}}}}
		if !reflect.DeepEqual(rep.Segmentations, want) {
			t.Errorf("segmentations %+v", rep.Segmentations)
		}
		if rep.Effects != nil {
			t.Errorf("effects from a source that cannot read them: %+v", rep.Effects)
		}
	})
	t.Run("runs", func(t *testing.T) {
		var ids []int64
		for _, r := range rep.Runs {
			ids = append(ids, r.ID)
		}
		if !reflect.DeepEqual(ids, []int64{1, 2, 3, 4}) || rep.Runs[0].Seconds != 1.5 || rep.Runs[1].Seconds != 0 {
			t.Errorf("runs %+v", rep.Runs)
		}
		b := rep.Runs[1]
		if !reflect.DeepEqual(b.GuardReasons, []string{"too many moves"}) || b.ErrorsByRule["tier.vip.when"] != 2 || b.Error != "too many moves" {
			t.Errorf("blocked run %+v", b)
		}
	})
	t.Run("sizes", func(t *testing.T) {
		var got []string
		for _, p := range rep.Sizes {
			got = append(got, p.AsOf.Format("02")+" "+p.Segmentation+"."+p.Segment+"="+itoa(p.Customers))
		}
		want := []string{"01 tier.vip=3", "01 tier.small=7", "01 lifecycle.churned=0", "01 lifecycle.active=10",
			"11 tier.vip=4", "11 tier.small=6", "11 lifecycle.churned=1", "11 lifecycle.active=9",
			"21 tier.vip=2", "21 tier.small=8", "21 lifecycle.churned=4", "21 lifecycle.active=6"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("sizes (by as-of, without (removed) or unknown segmentations):\n got %q\nwant %q", got, want)
		}
	})
	t.Run("moves", func(t *testing.T) {
		var got []string
		for _, m := range rep.Moves {
			got = append(got, m.Scope+" "+itoa64(m.RunID)+" "+m.From+">"+m.To+"="+itoa(m.Count)+" "+m.Direction)
		}
		want := []string{"latest 3 vip>small=2 down", "latest 3 (removed)>small=1 up",
			"period 0 vip>small=2 down", "period 0 small>vip=1 up", "period 0 (removed)>small=1 up",
			"period 0 >vip=3 in", "period 0 >small=7 in"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("moves (latest by as-of, then the period's; in rank order):\n got %q\nwant %q", got, want)
		}
	})
	t.Run("churn", func(t *testing.T) {
		c := rep.Churn
		if c == nil || c.Segmentation != "lifecycle" || c.Segment != "churned" || !strings.Contains(c.Definition, "15 days from 2024-03-01") {
			t.Fatalf("churn %+v", c)
		}
		var got []string
		for _, r := range c.Rates {
			got = append(got, r.PeriodStart.Format("02")+"-"+r.PeriodEnd.Format("02")+" "+r.Segmentation+"."+r.Segment+" "+
				itoa(r.Churned)+"/"+itoa(r.AtStart)+" applies "+itoa(r.Applies)+" uncounted "+itoa(r.Uncounted))
		}
		// Period 1 (days 0-14) has run 1 (counted, nobody churned) and run
		// 4 (counted nothing); period 2 has run 3, before which 4 were vip.
		want := []string{"01-16 tier.vip 0/0 applies 2 uncounted 1", "01-16 tier.small 0/0 applies 2 uncounted 1",
			"01-16 lifecycle.active 0/0 applies 2 uncounted 1",
			"16-26 tier.vip 2/4 applies 1 uncounted 0", "16-26 tier.small 1/6 applies 1 uncounted 0",
			"16-26 lifecycle.active 3/9 applies 1 uncounted 0"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("churn rates:\n got %q\nwant %q", got, want)
		}
		if r := c.Rates[3]; r.Rate != 0.5 {
			t.Errorf("rate of %+v, want 2/4", r)
		}
	})
	t.Run("actions", func(t *testing.T) {
		var got []string
		for _, a := range rep.Actions {
			got = append(got, a.Action+" "+a.Segmentation+"."+a.Segment+" "+a.Status+"="+itoa64(a.Count))
		}
		want := []string{"call tier.vip pending=3", "call tier.vip held_out=1",
			"call lifecycle.churned pending=1", "call lifecycle.active pending=2", "call lifecycle. held_out=1",
			"mail tier.small done=4", "mail lifecycle.active done=4",
			"legacy tier. pending=5", "legacy lifecycle. pending=5"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("actions (rule file order, segmentation, rank, status):\n got %q\nwant %q", got, want)
		}
	})
	t.Run("coverage", func(t *testing.T) {
		var got []int64
		for _, c := range rep.Coverage {
			got = append(got, c.RunID)
		}
		if !reflect.DeepEqual(got, []int64{1, 4, 3}) || rep.Coverage[2].Due != 2 {
			t.Errorf("coverage by as-of: %+v", rep.Coverage)
		}
	})
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func TestClassReportOptions(t *testing.T) {
	t.Parallel()
	rs := shopRuleSet(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts jobs.ClassReportOptions
		want string
	}{
		{"until before from", jobs.ClassReportOptions{From: day0, Until: day0.Add(-time.Second)}, "the period ends (2024-02-29T23:59:59Z) before it starts"},
		{"negative period", jobs.ClassReportOptions{From: day0, Period: -time.Hour}, "the churn period is -1h0m0s; give a positive length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := jobs.BuildClassReport(ctx, fakeShop(), rs, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("skip actions", func(t *testing.T) {
		src := fakeShop()
		src.err = errors.New("the queue was read")
		rep, err := jobs.BuildClassReport(ctx, src, rs, jobs.ClassReportOptions{From: day0, SkipActions: true})
		if err != nil || len(rep.Actions) != 0 || rep.Actions == nil || len(rep.Sizes) == 0 {
			t.Errorf("SkipActions: %v, %+v", err, rep)
		}
		if _, err := jobs.BuildClassReport(ctx, src, rs, jobs.ClassReportOptions{From: day0}); err == nil || !strings.Contains(err.Error(), "the queue was read") {
			t.Errorf("a source's error: %v", err)
		}
	})
	t.Run("no churn", func(t *testing.T) {
		noChurn := *rs
		noChurn.Churn = nil
		rep, err := jobs.BuildClassReport(ctx, fakeShop(), &noChurn, jobs.ClassReportOptions{From: day0, Until: day0.AddDate(0, 1, 0)})
		if err != nil || rep.Churn != nil || !rep.Until.Equal(day0.AddDate(0, 1, 0)) {
			t.Errorf("without churn: %v, %+v", err, rep.Churn)
		}
	})
	t.Run("empty", func(t *testing.T) {
		rep, err := jobs.BuildClassReport(ctx, &fakeSource{}, rs, jobs.ClassReportOptions{From: day0})
		if err != nil || !rep.Until.Equal(day0) || rep.Runs == nil || rep.Sizes == nil || rep.Moves == nil || rep.Coverage == nil ||
			rep.Churn == nil || rep.Churn.Rates == nil {
			t.Errorf("an empty report: %v, %+v", err, rep)
		}
	})
}
