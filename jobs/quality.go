package jobs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// QualityReport is what a run found out about its facts before (and
// while) evaluating them: one entry per facts source, the declared checks
// on facts and sources, duplicates and customers who left the source. It
// is part of the PlanReport, and what `tierflow check --data` prints.
type QualityReport struct {
	// Failed is true when a check failed: an apply is refused unless the
	// run allows failed checks.
	Failed bool `json:"failed"`
	// Sources are the facts sources in merge order; the first is the
	// primary one, whose customers are the run's population.
	Sources []SourceQuality `json:"sources"`
	// Facts hold per-fact counts and the outcome of the fact's checks, in
	// schema order.
	Facts []FactQuality `json:"facts"`
	// Absent is the number of customers the state knows that no source
	// returned; Left is how many of them left their segments
	// (on_missing: exit).
	Absent int `json:"absent"`
	Left   int `json:"left"`
	// Checks lists every declared check and its outcome, failed first.
	Checks []CheckResult `json:"checks"`
	// Warnings are things a reader of the plan should know that no check
	// declared: facts much older than the as-of time (StaleAfter).
	Warnings []string `json:"warnings,omitempty"`
}

// StaleAfter is how much older than the run's as-of time the newest date
// in the facts may be before a plan warns that it evaluates old facts (a
// 2024 export previewed "as of today"). Declare fresh_within on a source
// to make it a check that refuses the apply instead.
const StaleAfter = 30 * 24 * time.Hour

// SourceQuality is one facts source's counts.
type SourceQuality struct {
	// Name is the source's name: "primary", or as configured.
	Name string `json:"name"`
	// Rows is the number of rows the source returned, duplicates
	// included; Customers the number of distinct keys kept.
	Rows      int64 `json:"rows"`
	Customers int64 `json:"customers"`
	// Duplicates is the number of rows whose key an earlier row had;
	// DuplicateKeys are the first such keys, for the report.
	Duplicates    int64    `json:"duplicates"`
	DuplicateKeys []string `json:"duplicate_keys,omitempty"`
	// OnDuplicate is what the source does with them: error, first, last.
	OnDuplicate string `json:"on_duplicate"`
	// Unmatched counts rows of a non-primary source whose key is not a
	// customer of the primary source; they are ignored.
	Unmatched int64 `json:"unmatched,omitempty"`
	// Newest is the newest value of the source's freshness fact, or the
	// modification time of its newest file, when a freshness check is
	// declared; empty otherwise.
	Newest string `json:"newest,omitempty"`
}

// FactQuality is one fact's counts over the run's customers.
type FactQuality struct {
	Name string `json:"name"`
	// Source is the name of the source the fact comes from.
	Source string `json:"source"`
	// Nulls counts customers for whom the fact is null (a customer missing
	// from a non-primary source included); Invalid counts values the
	// reader could not convert (per-customer errors).
	Nulls   int64 `json:"nulls"`
	Invalid int64 `json:"invalid"`
	// Violations counts values outside the declared min, max or one_of,
	// or repeating a unique fact's value.
	Violations int64 `json:"violations"`
	// Newest is the latest value of a time fact, RFC 3339; empty for
	// other facts or when every value is null.
	Newest string `json:"newest,omitempty"`
}

// CheckResult is one declared check's outcome.
type CheckResult struct {
	// Check names it the way it is declared: "facts.spend_12m.min",
	// "sources.primary.min_rows", "sources.crm.duplicates".
	Check  string `json:"check"`
	Passed bool   `json:"passed"`
	// Count is the number of customers or rows that failed it (or the
	// measured value, for row-count and freshness checks); Message says
	// what was found against what was declared, and how to fix it.
	Count    int64    `json:"count"`
	Message  string   `json:"message"`
	Examples []string `json:"examples,omitempty"`
}

// collector gathers a pass's per-fact counts and check outcomes as
// customers stream by, on one goroutine.
type collector struct {
	rs      *rules.RuleSet
	sources Sources
	owner   []int // per fact, the index of the source that provides it
	facts   []factStats
	// fresh holds, per source, the place of its freshness fact (-1: none)
	// and the newest value seen.
	freshAt []int
	newest  []time.Time
	absentN int
	leftN   int
}

type factStats struct {
	nulls, invalid, violations int64
	newest                     time.Time // time facts
	examples                   []string
	seen                       map[any]string // unique facts: value -> first customer
}

// MaxCheckExamples is how many failing customers a check lists.
const MaxCheckExamples = 5

func newCollector(rs *rules.RuleSet, ss Sources) *collector {
	q := &collector{rs: rs, sources: ss}
	q.owner = make([]int, len(rs.Facts.Fields))
	for i := 1; i < len(ss); i++ {
		for _, f := range ss[i].Provides {
			if _, k, ok := rs.Facts.Lookup(f); ok {
				q.owner[k] = i
			}
		}
	}
	q.freshAt = make([]int, len(ss))
	for i, s := range ss {
		q.freshAt[i] = -1
		if s.FreshFact != "" {
			if _, k, ok := rs.Facts.Lookup(s.FreshFact); ok {
				q.freshAt[i] = k
			}
		}
	}
	q.reset()
	return q
}

// reset starts a new pass.
func (q *collector) reset() {
	q.facts = make([]factStats, len(q.rs.Facts.Fields))
	for k, f := range q.rs.Facts.Fields {
		if factUnique(f) {
			q.facts[k].seen = map[any]string{}
		}
	}
	q.newest = make([]time.Time, len(q.sources))
	q.absentN, q.leftN = 0, 0
}

// absent counts a customer the state knows that no source returned; left
// is true when it leaves its segments (on_missing: exit).
func (q *collector) absent(left bool) {
	q.absentN++
	if left {
		q.leftN++
	}
}

// add counts one customer's facts.
func (q *collector) add(c *engine.Customer) {
	for k := range q.rs.Facts.Fields {
		f := &q.rs.Facts.Fields[k]
		st := &q.facts[k]
		var v any
		if k < len(c.Facts) {
			v = c.Facts[k]
		}
		if v == nil {
			if c.HasFactError(f.Name) {
				st.invalid++
			} else {
				st.nulls++
			}
			continue
		}
		if t, ok := v.(time.Time); ok && t.After(st.newest) {
			st.newest = t
		}
		if msg := factViolation(f, v); msg != "" {
			st.violate(c.Key, msg)
		}
		if st.seen != nil {
			if first, dup := st.seen[v]; dup {
				st.violate(c.Key, fmt.Sprintf("%v is also the value of customer %s", v, first))
			} else {
				st.seen[v] = c.Key
			}
		}
	}
	for i, k := range q.freshAt {
		if k < 0 || k >= len(c.Facts) {
			continue
		}
		if t, ok := c.Facts[k].(time.Time); ok && t.After(q.newest[i]) {
			q.newest[i] = t
		}
	}
}

func (st *factStats) violate(key, msg string) {
	st.violations++
	if len(st.examples) < MaxCheckExamples {
		st.examples = append(st.examples, "customer "+key+": "+msg)
	}
}

// report judges the pass: sources' counts (stats), the declared checks
// against the run's as-of time and the last successful run prev (nil
// when there is none), and modified, the newest file time of each source
// that has files (zero otherwise).
func (q *collector) report(stats []SourceQuality, asOf time.Time, prev *PreviousRun, modified []time.Time) *QualityReport {
	r := &QualityReport{Absent: q.absentN, Left: q.leftN, Sources: stats, Facts: []FactQuality{}, Checks: []CheckResult{}}
	customers := int64(0)
	if len(stats) > 0 {
		customers = stats[0].Customers
	}
	for i := range stats {
		s := &q.sources[i]
		st := &r.Sources[i]
		name := "sources." + s.Name
		if st.Duplicates > 0 {
			passed := st.OnDuplicate != OnDuplicateError
			msg := fmt.Sprintf("%s a customer key of an earlier row; on_duplicate: %s keeps the %s", rows(st.Duplicates, "repeats", "repeat"), st.OnDuplicate, st.OnDuplicate)
			if !passed {
				msg = (&DuplicateKeysError{Source: s.Name, Count: st.Duplicates, Keys: st.DuplicateKeys}).Error()
			}
			r.add(CheckResult{Check: name + ".duplicates", Passed: passed, Count: st.Duplicates, Message: msg, Examples: st.DuplicateKeys})
		}
		if s.MinRows > 0 {
			r.add(CheckResult{Check: name + ".min_rows", Passed: st.Rows >= s.MinRows, Count: st.Rows,
				Message: fmt.Sprintf("%s rows, at least %s required", grouped(st.Rows), grouped(s.MinRows))})
		}
		if s.MaxRowChange > 0 && prev != nil {
			if was, ok := prev.SourceRows[s.Name]; ok && was > 0 {
				change := float64(st.Rows-was) / float64(was)
				if change < 0 {
					change = -change
				}
				r.add(CheckResult{Check: name + ".max_row_change", Passed: change <= s.MaxRowChange, Count: st.Rows,
					Message: fmt.Sprintf("%s rows against %s in the last successful run (run %d): %.1f%% change, at most %.1f%% allowed",
						grouped(st.Rows), grouped(was), prev.ID, change*100, s.MaxRowChange*100)})
			}
		}
		if s.FreshWithin > 0 {
			newest, what := q.newest[i], "the newest "+s.FreshFact
			if s.FreshFact == "" {
				newest, what = time.Time{}, "the newest file"
				if i < len(modified) {
					newest = modified[i]
				}
			}
			if !newest.IsZero() {
				st.Newest = newest.UTC().Format(time.RFC3339)
			}
			age := asOf.Sub(newest)
			ok := !newest.IsZero() && age <= s.FreshWithin
			when := rules.FormatDuration(age) + " before"
			if age < 0 {
				when = rules.FormatDuration(-age) + " after"
			}
			msg := fmt.Sprintf("%s is %s, %s the as-of time %s; fresh_within is %s", what, st.Newest, when, asOf.UTC().Format(time.RFC3339), rules.FormatDuration(s.FreshWithin))
			if newest.IsZero() {
				msg = fmt.Sprintf("%s is unknown (no value); fresh_within is %s", what, rules.FormatDuration(s.FreshWithin))
			}
			if !ok {
				msg += ": the facts are stale; refresh the export, or pass the facts' own date with --as-of"
			}
			r.add(CheckResult{Check: name + ".fresh_within", Passed: ok, Count: int64(age / (24 * time.Hour)), Message: msg})
		}
	}
	for k, f := range q.rs.Facts.Fields {
		st := &q.facts[k]
		src := q.sources[q.owner[k]].Name
		fq := FactQuality{Name: f.Name, Source: src, Nulls: st.nulls, Invalid: st.invalid, Violations: st.violations}
		if !st.newest.IsZero() {
			fq.Newest = st.newest.UTC().Format(time.RFC3339)
		}
		r.Facts = append(r.Facts, fq)
		name := "facts." + f.Name
		if factHasValueChecks(&f) || st.seen != nil {
			r.add(CheckResult{Check: name + ".values", Passed: st.violations == 0, Count: st.violations, Examples: st.examples,
				Message: fmt.Sprintf("%s of %s customers break the checks declared on %s (%s)", grouped(st.violations), grouped(customers), f.Name, factCheckNames(&f))})
		}
		if share, ok := factMaxNullShare(&f); ok {
			got := 0.0
			if customers > 0 {
				got = float64(st.nulls) / float64(customers)
			}
			r.add(CheckResult{Check: name + ".max_null_share", Passed: got <= share, Count: st.nulls,
				Message: fmt.Sprintf("%s of %s customers (%.1f%%) have no %s, at most %.1f%% allowed", grouped(st.nulls), grouped(customers), got*100, f.Name, share*100)})
		}
	}
	sort.SliceStable(r.Checks, func(i, j int) bool { return !r.Checks[i].Passed && r.Checks[j].Passed })
	if w := q.staleness(asOf); w != "" {
		r.Warnings = append(r.Warnings, w)
	}
	return r
}

// staleness warns when the newest date in the facts (over every time
// fact, leaving out facts with dates after asOf, such as a contract's
// end) is more than StaleAfter before asOf; "" otherwise.
func (q *collector) staleness(asOf time.Time) string {
	var newest time.Time
	var fact string
	for k, f := range q.rs.Facts.Fields {
		t := q.facts[k].newest
		if t.IsZero() || t.After(asOf) {
			continue
		}
		if t.After(newest) {
			newest, fact = t, f.Name
		}
	}
	if newest.IsZero() || asOf.Sub(newest) <= StaleAfter {
		return ""
	}
	next := newest.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	return fmt.Sprintf("the newest date in the facts (%s %s) is %d days before the as-of time %s: the facts look stale; if they are an export, evaluate them as of its date with --as-of %s",
		fact, newest.UTC().Format("2006-01-02"), int(asOf.Sub(newest)/(24*time.Hour)), asOf.UTC().Format("2006-01-02"), next.Format("2006-01-02"))
}

func (r *QualityReport) add(c CheckResult) {
	if !c.Passed {
		r.Failed = true
	}
	r.Checks = append(r.Checks, c)
}

// FailedChecks returns the messages of the failed checks.
func (r *QualityReport) FailedChecks() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.Passed {
			out = append(out, c.Check+": "+c.Message)
		}
	}
	return out
}

// left is the number of customers who left their segments; 0 for nil.
func (r *QualityReport) left() int {
	if r == nil {
		return 0
	}
	return r.Left
}

// CheckData runs every data-quality check of rs against the current facts
// without evaluating rules: one pass over the sources (and, for absent
// customers and row-count changes, the state), as `tierflow check --data`
// does. Duplicate keys a source refuses are reported as a failed check,
// not returned as an error. It writes nothing.
func CheckData(ctx context.Context, state StateStore, facts FactsSource, rs *rules.RuleSet, opts Options) (*QualityReport, error) {
	opts.normalize()
	prev, err := previousRun(ctx, state, rs)
	if err != nil {
		return nil, err
	}
	snap, err := OpenSnapshot(ctx, state, facts, rs, At(opts.AsOf))
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	total := int64(-1)
	if opts.Progress != nil {
		if n, err := snap.Count(ctx); err == nil {
			total = n
		}
	}
	var done int64
	err = snap.Stream(ctx, opts.BatchSize, func(b []engine.Customer) error {
		done += int64(len(b))
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
		return nil
	})
	var dup *DuplicateKeysError
	if err != nil && !errors.As(err, &dup) {
		return nil, err
	}
	return qualityOf(snap, opts.AsOf, prev), nil
}

// rows writes a count of rows with the verb that agrees with it: "1 row
// repeats", "3 rows repeat".
func rows(n int64, one, many string) string {
	if n == 1 {
		return "1 row " + one
	}
	return grouped(n) + " rows " + many
}
