package jobs

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tierflow/tierflow/rules"
)

// churnTally adds up, per period, the churn counts the succeeded
// applies' reports recorded (SegmentReport.Churned), and keeps each
// period's class sizes before its first apply.
type churnTally struct {
	rs *rules.RuleSet
	// seg and segment are the churn segment.
	seg         int
	segment     string
	from, until time.Time
	length      time.Duration
	periods     map[int]*churnPeriod
}

// churnPeriod is one period's applies.
type churnPeriod struct {
	// first is the earliest as-of of the period's applies; atStart holds
	// the class sizes before it.
	first   time.Time
	atStart map[classKey]int
	churned map[classKey]int
	applies int
	// uncounted are the applies whose report counted no churn.
	uncounted int
}

// classKey is one segment of the segmentation with index seg.
type classKey struct {
	seg     int
	segment string
}

// add takes one succeeded apply's report: it counts in the period its
// as-of is in (none before From or after Until).
func (t *churnTally) add(asOf time.Time, rep *PlanReport) {
	if asOf.Before(t.from) || asOf.After(t.until) {
		return
	}
	k := int(asOf.Sub(t.from) / t.length)
	p := t.periods[k]
	if p == nil {
		p = &churnPeriod{churned: map[classKey]int{}}
		t.periods[k] = p
	}
	p.applies++
	first := p.atStart == nil || asOf.Before(p.first)
	if first {
		p.first, p.atStart = asOf, map[classKey]int{}
	}
	counted := false
	for _, sr := range rep.Segmentations {
		i, ok := t.segmentation(sr.Name)
		if !ok {
			continue
		}
		for _, seg := range sr.Segments {
			k := classKey{i, seg.Name}
			if first {
				p.atStart[k] = seg.Before
			}
			if seg.Churned != nil {
				counted = true
				p.churned[k] += *seg.Churned
			}
		}
	}
	if !counted {
		p.uncounted++
	}
}

func (t *churnTally) segmentation(name string) (int, bool) {
	s, i := t.rs.Segmentation(name)
	return i, s != nil
}

// report lists the rates: per period with an apply, from the earliest,
// every segment of every segmentation in rank order but the churn segment
// itself (whose customers cannot enter it). The last period ends at
// until.
func (t *churnTally) report(until time.Time) *ChurnReport {
	c := t.rs.Churn
	r := &ChurnReport{Segmentation: c.Segmentation, Segment: c.Segment, Definition: t.definition(), Rates: []ChurnRate{}}
	for _, k := range slices.Sorted(maps.Keys(t.periods)) {
		p := t.periods[k]
		start := t.from.Add(time.Duration(k) * t.length)
		end := start.Add(t.length)
		if until.Before(end) {
			end = until
		}
		for i, s := range t.rs.Segmentations {
			for _, seg := range s.Segments {
				if i == t.seg && seg.Name == t.segment {
					continue
				}
				key := classKey{i, seg.Name}
				cr := ChurnRate{PeriodStart: start, PeriodEnd: end, Segmentation: s.Name, Segment: seg.Name,
					AtStart: p.atStart[key], Churned: p.churned[key], Applies: p.applies, Uncounted: p.uncounted}
				if cr.AtStart > 0 {
					cr.Rate = float64(cr.Churned) / float64(cr.AtStart)
				}
				r.Rates = append(r.Rates, cr)
			}
		}
	}
	return r
}

// definition says what the rates are, in words.
func (t *churnTally) definition() string {
	s := t.rs.Segmentations[t.seg]
	seg := s.Segments[s.SegmentIndex(t.segment)]
	name := t.rs.Churn.String()
	if seg.Label != "" {
		name += " (" + seg.Label + ")"
	}
	return fmt.Sprintf("Churn rate of a class in a period: the customers who entered %s during the period while in the class "+
		"(the class they were in just before the run that moved them), over the customers in the class at the period's start "+
		"(before its first apply). Periods of %s from %s; the churn segment itself has no rate.",
		name, periodText(t.length), dayOrTime(t.from))
}

// dayOrTime shows a time as a date when it is midnight UTC, else in RFC
// 3339.
func dayOrTime(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}
