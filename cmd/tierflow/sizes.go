package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/tierflow/tierflow/internal/views"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

const sizesUsage = `
Usage: tierflow sizes [flags] [RULESET]

Shows how many customers each class held after every succeeded apply of
each configured rule set, or of RULESET: one table per segmentation (or
the one --segmentation names), with a row per apply by its as-of and a
column per segment in rank order, labelled as the rule file labels them,
then the total. The sizes are those each apply recorded with its run;
nothing is evaluated and no facts are read, so a year of nightly runs is
365 run records to read.

The applies are those as of --since before --until up to --until;
an --until without a time of day includes that whole day. A segment the
rules no longer define has no column. tierflow runs --segments shows the
same sizes under each run.

Examples:
  tierflow sizes                                   # every rule set and segmentation, the last 90 days
  tierflow sizes retail --segmentation value_tier
  tierflow sizes retail --segmentation lifecycle --since 365d
  tierflow sizes retail --since 2024-01-01 --until 2024-06-30
  tierflow sizes retail --format markdown >> "$GITHUB_STEP_SUMMARY"
  tierflow sizes --format csv > sizes.csv          # one row per apply and segment
  tierflow sizes --format json                     # docs/output.md
`

func runSizes(ctx context.Context, a *app, args []string) int {
	fs := a.flagSet("sizes", sizesUsage)
	df := addDBFlags(fs)
	segmentation := fs.String("segmentation", "", "only this `segmentation` (default: every one)")
	since := fs.String("since", "90d", "applies as of this long before --until (30d, 26w), or as of this `date` on")
	until := fs.String("until", "", "applies as of this `date` or earlier (2024-07-01, a whole day, or RFC 3339; default: now)")
	ff := addFormatFlag(fs, "text, json (docs/output.md), markdown or csv")
	args, code, ok := a.parse(fs, args)
	if !ok {
		return code
	}
	v, err := pickView(ff, a.stdout, views.NewTable)
	if err != nil {
		return a.errorf("sizes: %v", err)
	}
	period, err := a.sizesPeriod(*since, *until)
	if err != nil {
		return a.errorf("sizes: %v", err)
	}
	name, err := rulesetArg(args, *df.ruleset)
	if err != nil {
		return a.errorf("sizes: %v", err)
	}
	*df.ruleset = name
	store, sets, closeAll, err := a.openRuleSets(ctx, df)
	if err != nil {
		return a.errorf("sizes: %v", err)
	}
	defer closeAll() //nolint:errcheck // read only
	src, ok := store.(jobs.ReportSource)
	if !ok {
		return a.errorf("sizes: this state store (%T) cannot read back its run record (jobs.ReportSource)", store)
	}
	tables, err := sizesTables(ctx, src, sets, period, *segmentation, name != "")
	if err != nil {
		return a.errorf("sizes: %s", store.Redact(err.Error()))
	}
	if err := v.Sizes(tables); err != nil {
		return a.errorf("sizes: %v", err)
	}
	return exitOK
}

// sizesPeriod is the period --since and --until give; --until is now
// when not given.
func (a *app) sizesPeriod(since, until string) (jobs.ClassReportOptions, error) {
	p, err := parsePeriodFlags(since, until)
	if err != nil {
		return jobs.ClassReportOptions{}, err
	}
	from, to := p.span(a.now())
	if to.Before(from) {
		return jobs.ClassReportOptions{}, fmt.Errorf("--until %s is before --since %s", until, since)
	}
	return jobs.ClassReportOptions{From: from, Until: to}, nil
}

// sizesTables reads each rule set's class sizes of the period (the run
// record only: SkipActions) and makes a table of each segmentation, or
// of the one named. A rule set named by the command must have it; of
// every configured one, those that have it.
func sizesTables(ctx context.Context, src jobs.ReportSource, sets []*rules.RuleSet, opts jobs.ClassReportOptions, segmentation string, named bool) ([]views.SizesTable, error) {
	opts.SkipActions = true
	var out []views.SizesTable
	for _, rs := range sets {
		if segmentation != "" {
			if s, _ := rs.Segmentation(segmentation); s == nil {
				if named || len(sets) == 1 {
					return nil, fmt.Errorf("--segmentation %q: rule set %s has no such segmentation (it has %s)", segmentation, rs.Name, segmentationList(rs))
				}
				continue
			}
		}
		rep, err := jobs.BuildClassReport(ctx, src, rs, opts)
		if err != nil {
			return nil, err
		}
		for _, s := range rep.Segmentations {
			if segmentation == "" || s.Name == segmentation {
				out = append(out, sizesTable(rep, s))
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--segmentation %q: no configured rule set has it", segmentation)
	}
	return out, nil
}

// sizesTable is one segmentation's sizes: a row per apply, in the
// report's order (by as-of), a column per segment the rules define.
func sizesTable(rep *jobs.ClassReport, s jobs.ReportSegmentation) views.SizesTable {
	t := views.SizesTable{RuleSet: rep.RuleSet, RuleSetLabel: rep.Label, From: rep.From, Until: rep.Until, Segmentation: s}
	column := map[string]int{}
	for i, seg := range s.Segments {
		column[seg.Name] = i
	}
	row := map[int64]int{}
	for _, p := range rep.Sizes {
		k, ok := column[p.Segment]
		if p.Segmentation != s.Name || !ok {
			continue
		}
		i, seen := row[p.RunID]
		if !seen {
			i = len(t.Rows)
			row[p.RunID] = i
			t.Rows = append(t.Rows, views.SizesRow{RunID: p.RunID, AsOf: p.AsOf, Customers: make([]int, len(s.Segments))})
		}
		t.Rows[i].Customers[k] = p.Customers
	}
	return t
}

// segmentationList lists a rule set's segmentations: "value_tier,
// lifecycle".
func segmentationList(rs *rules.RuleSet) string {
	names := make([]string, len(rs.Segmentations))
	for i, s := range rs.Segmentations {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}
