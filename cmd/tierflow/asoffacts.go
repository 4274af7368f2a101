package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// asOfFromFacts is the --as-of value of plan that takes the as-of from
// the facts themselves (factsAsOf): what a CI job previewing an export
// passes, so that an old export is evaluated as of its own date.
const asOfFromFacts = "facts"

// planAsOf reads plan's --as-of: a date or time, "facts" (fromFacts; the
// time returned is then today, replaced per rule set by factsAsOf), or
// today when s is empty.
func (a *app) planAsOf(mode, s string) (asOf time.Time, fromFacts bool, err error) {
	if s != asOfFromFacts {
		asOf, err = a.asOfFlag(s)
		if err != nil {
			if mode == "plan" {
				err = fmt.Errorf("%w, or facts for the day after the newest date in the facts", err)
			}
			return time.Time{}, false, err
		}
		return asOf, false, nil
	}
	if mode != "plan" {
		return time.Time{}, false, fmt.Errorf("%q is for plan, which previews; an apply evaluates at the date you name (the one the plan showed, e.g. --as-of 2024-07-01) or at a saved plan's", s)
	}
	asOf, _ = a.asOfFlag("")
	return asOf, true, nil
}

// factsAsOf is the as-of --as-of facts stands for: the day after the
// newest date in rs's facts, never after today. The newest date is that
// of the primary source's fresh_fact when it declares one, else of any
// time fact, leaving out facts with dates after today (a contract's
// end). Facts with no date at all are evaluated as of today. why says
// in words where the date came from.
func factsAsOf(ctx context.Context, state jobs.StateStore, facts jobs.FactsSource, rs *rules.RuleSet, now time.Time) (at time.Time, why string, err error) {
	today := now.UTC().Truncate(24 * time.Hour)
	q, err := jobs.CheckData(ctx, state, facts, rs, jobs.Options{AsOf: today})
	if err != nil {
		return time.Time{}, "", err
	}
	newest, fact := newestFactDate(q, freshFact(facts, rs), today)
	if newest.IsZero() {
		return today, "today: the facts hold no date", nil
	}
	at = newest.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	if at.After(today) {
		return today, fmt.Sprintf("today: the newest %s in the facts is %s", fact, newest.UTC().Format("2006-01-02")), nil
	}
	return at, fmt.Sprintf("the day after the newest %s in the facts (%s)", fact, newest.UTC().Format("2006-01-02")), nil
}

// newestFactDate is the newest value of the fact named fresh when it is
// not "", else the newest value of any time fact that has none after
// today, with the fact's name; zero when there is none.
func newestFactDate(q *jobs.QualityReport, fresh string, today time.Time) (time.Time, string) {
	var newest time.Time
	var name string
	for _, f := range q.Facts {
		if f.Newest == "" || (fresh != "" && f.Name != fresh) {
			continue
		}
		t, err := rules.ParseTime(f.Newest)
		if err != nil || (fresh == "" && t.After(today.Add(24*time.Hour-1))) {
			continue
		}
		if t.After(newest) {
			newest, name = t, f.Name
		}
	}
	return newest, name
}

// freshFact is the fresh_fact of rs's primary configured source, or "".
func freshFact(facts jobs.FactsSource, rs *rules.RuleSet) string {
	src, ok := facts.(jobs.FactsByRuleSet)
	if !ok {
		return ""
	}
	ss, ok := src.For(rs.Name).(jobs.Sources)
	if !ok || len(ss) == 0 {
		return ""
	}
	return ss[0].FreshFact
}
