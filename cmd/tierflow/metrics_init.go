package main

// What serve's metrics export before the process has observed anything,
// so that alerts work from its first minute: every counter at 0 for each
// label value its rule sets, rule files and outcome endpoint can take
// (increase() needs a series that existed before its first event), and
// the gauges of each rule set's state (last success, segment sizes,
// coverage) from the run record in the database. The run record is read
// again at scrapes, at most once a minute, so that every replica shows the
// latest succeeded run, whichever replica or command applied it.

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// observedStatuses are the run statuses the scheduler reports to
// RunFinished, each counted from 0. Abandoned runs are found by a later
// apply, not reported; missed slots are tierflow_slots_missed_total.
var observedStatuses = []jobs.Status{jobs.StatusSucceeded, jobs.StatusBlocked, jobs.StatusFailed, jobs.StatusSkipped, jobs.StatusCancelled}

// refreshEvery is how often scrapes read the run record again.
const refreshEvery = time.Minute

// runRecord is what the metrics read of a state store: a rule set's
// latest succeeded run and the report stored with it. PostgreSQL and
// SQLite have both.
type runRecord interface {
	jobs.PopulationReader
	runReportReader
}

// metricsSource is where serve's metrics find what the process has not
// observed.
type metricsSource struct {
	cfg *config
	// store is the state store, read when it is a runRecord.
	store any
	sets  []configured
	// ruleSet returns the rule set scheduled under a name, as reloaded.
	ruleSet func(name string) *rules.RuleSet
	// outcomes is the outcome endpoint; its counters start at 0 when it
	// is on.
	outcomes *outcomeHandler
	logger   *slog.Logger
}

// seriesInit is the metrics' bookkeeping of start-up and reloads. Its
// fields are guarded by metrics.mu, but for refreshMu and refreshed.
type seriesInit struct {
	src *metricsSource
	// hashes are the rules hash whose series are initialised, by rule
	// set; pending the rule sets set (started or reloaded) since.
	hashes  map[string]string
	pending map[string]bool
	// gen counts the successes this process observed, by rule set; runID
	// is the run whose stored report the gauges show, 0 when they show
	// an observed run's.
	gen   map[string]uint64
	runID map[string]int64

	refreshMu sync.Mutex
	refreshed time.Time
}

// observedLocked notes a success this process observed: a refresh that
// read the database before it must not overwrite its gauges, and the
// next one reads its stored report. metrics.mu is held.
func (s *seriesInit) observedLocked(ruleset string) {
	if s.gen == nil {
		s.gen, s.runID = map[string]uint64{}, map[string]int64{}
	}
	s.gen[ruleset]++
	s.runID[ruleset] = 0
}

// start initialises the series of every configured rule set and reads the
// run record; from then on, scrapes read it again and rule sets changed
// by a reload get their new series.
func (m *metrics) start(ctx context.Context, src metricsSource) {
	m.mu.Lock()
	m.init.src = &src
	m.mu.Unlock()
	for _, set := range src.sets {
		m.reloadsFailed.WithLabelValues(src.cfg.rulesPath(*set.cfg))
		m.initRuleSet(set.rs)
	}
	if _, ok := src.store.(runRecord); !ok {
		src.logger.Warn("this state store cannot read the run record: tierflow_last_success_timestamp_seconds, tierflow_segment_customers and the coverage gauges appear with the first success this process runs")
	}
	m.init.refreshMu.Lock()
	defer m.init.refreshMu.Unlock()
	m.refresh(ctx, &src)
}

// changed notes that the scheduler was given ruleset, perhaps a new
// version of it.
func (m *metrics) changed(ruleset string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.init.pending == nil {
		m.init.pending = map[string]bool{}
	}
	m.init.pending[ruleset] = true
}

// initPending initialises the series of the rule sets named (all when
// none is) that the scheduler was given since their last initialisation.
func (m *metrics) initPending(names ...string) {
	m.mu.Lock()
	src := m.init.src
	if len(names) == 0 {
		for n := range m.init.pending {
			names = append(names, n)
		}
	}
	var due []string
	for _, n := range names {
		if m.init.pending[n] {
			due = append(due, n)
		}
	}
	m.mu.Unlock()
	if src == nil || src.ruleSet == nil {
		return
	}
	for _, n := range due {
		if rs := src.ruleSet(n); rs != nil {
			m.initRuleSet(rs)
		}
	}
}

// initRuleSet makes every counter of rs exist, at 0 when new: runs by
// status, duration, rule errors, missed slots, moves by segmentation,
// actions queued and withheld, and outcomes when the endpoint is on.
func (m *metrics) initRuleSet(rs *rules.RuleSet) {
	m.mu.Lock()
	delete(m.init.pending, rs.Name)
	if m.init.hashes == nil {
		m.init.hashes = map[string]string{}
	}
	done := m.init.hashes[rs.Name] == rs.Hash
	m.init.hashes[rs.Name] = rs.Hash
	src := m.init.src
	m.mu.Unlock()
	if done {
		return
	}
	name := rs.Name
	for _, st := range observedStatuses {
		m.runs.WithLabelValues(name, string(st))
	}
	m.duration.WithLabelValues(name)
	m.ruleErrors.WithLabelValues(name)
	m.missed.WithLabelValues(name)
	for _, s := range rs.Segmentations {
		m.moves.WithLabelValues(name, s.Name)
	}
	for _, a := range rs.Actions {
		m.actions.WithLabelValues(name, a.Name)
		m.withheld.WithLabelValues(name, a.Name, jobs.ActionHeldOut)
		m.withheld.WithLabelValues(name, a.Name, jobs.ActionSuppressed)
	}
	if src != nil && src.outcomes != nil && len(src.outcomes.digests) > 0 {
		src.outcomes.metrics.initRuleSet(rs)
	}
}

// initRuleSet makes the outcome counters of rs's actions exist: done
// with each outcome the action declares (none when it declares none),
// and failed, which takes no outcome.
func (m *outcomeMetrics) initRuleSet(rs *rules.RuleSet) {
	for _, a := range rs.Actions {
		outcomes := a.Outcomes
		if len(outcomes) == 0 {
			outcomes = []string{""}
		}
		for _, o := range outcomes {
			m.outcomes.WithLabelValues(rs.Name, a.Name, jobs.ActionDone, o)
		}
		m.outcomes.WithLabelValues(rs.Name, a.Name, jobs.ActionFailed, "")
	}
}

// refresh reads the latest succeeded run of every configured rule set and
// shows it: its finish time as the last success (0 when the rule set
// never succeeded), its report's segment sizes and coverage. A rule set
// whose run cannot be read keeps what it shows, and is logged. The caller
// holds refreshMu.
func (m *metrics) refresh(ctx context.Context, src *metricsSource) {
	m.init.refreshed = time.Now()
	rec, ok := src.store.(runRecord)
	if !ok {
		return
	}
	for _, set := range src.sets {
		if err := m.refreshRuleSet(ctx, rec, set.rs.Name); err != nil {
			src.logger.Error("metrics: cannot read the rule set's last succeeded run; its gauges show what they showed, and scrapes try again", "ruleset", set.rs.Name, "error", err.Error())
		}
	}
}

// refreshRuleSet shows the latest succeeded run of one rule set, unless
// the gauges show it already or this process observed a success while it
// was read.
func (m *metrics) refreshRuleSet(ctx context.Context, rec runRecord, ruleset string) error {
	m.mu.Lock()
	gen, shown := m.init.gen[ruleset], m.init.runID[ruleset]
	m.mu.Unlock()
	last, ok, err := rec.LastSucceeded(ctx, ruleset)
	if err != nil {
		return err
	}
	if !ok {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.init.gen[ruleset] == gen {
			m.lastSuccess.WithLabelValues(ruleset).Set(0)
		}
		return nil
	}
	if last.ID == shown {
		return nil
	}
	run, rep, ok, err := rec.RunReport(ctx, last.ID)
	if !ok {
		return err
	}
	finished := run.Started
	if run.Finished != nil {
		finished = *run.Finished
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.init.gen[ruleset] != gen {
		return nil
	}
	m.lastSuccess.WithLabelValues(ruleset).Set(float64(finished.UnixNano()) / 1e9)
	if rep != nil {
		m.showLocked(ruleset, rep)
	}
	if m.init.runID == nil {
		m.init.gen, m.init.runID = map[string]uint64{}, map[string]int64{}
	}
	m.init.runID[ruleset] = last.ID
	if err != nil {
		return fmt.Errorf("run %d: %w", last.ID, err)
	}
	return nil
}

// refresher is the metrics as a collector of nothing: each scrape
// initialises the rule sets a reload changed and, at most once a
// minute, reads the run record again.
type refresher metrics

// Describe implements prometheus.Collector; refresher describes nothing,
// so the registry does not check what it collects (nothing).
func (r *refresher) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (r *refresher) Collect(chan<- prometheus.Metric) {
	m := (*metrics)(r)
	m.initPending()
	m.mu.Lock()
	src := m.init.src
	m.mu.Unlock()
	if src == nil || !m.init.refreshMu.TryLock() {
		return // no database behind, or another scrape is reading it
	}
	defer m.init.refreshMu.Unlock()
	if time.Since(m.init.refreshed) < refreshEvery {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), queueStatsTimeout)
	defer cancel()
	m.refresh(ctx, src)
}
