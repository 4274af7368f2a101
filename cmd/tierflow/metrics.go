package main

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

// metrics implements jobs.Observer with Prometheus collectors.
type metrics struct {
	runs          *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	customers     *prometheus.GaugeVec
	moves         *prometheus.CounterVec
	actions       *prometheus.CounterVec
	ruleErrors    *prometheus.CounterVec
	lastSuccess   *prometheus.GaugeVec
	nextRun       *prometheus.GaugeVec
	missed        *prometheus.CounterVec
	reloadsFailed *prometheus.CounterVec
	// coverage and coverageCustomers are each coverage target's standing
	// after the last applied run; withheld counts the actions held out or
	// suppressed.
	coverage          *prometheus.GaugeVec
	coverageCustomers *prometheus.GaugeVec
	withheld          *prometheus.CounterVec
	// segmentCustomers is each segment's size after the last applied run.
	segmentCustomers *prometheus.GaugeVec

	// scrapeMu is held for writing while a finished run is shown and for
	// reading while a scrape gathers (gatherer): a scrape is collected
	// concurrently, collector by collector, and without it one could count
	// a success whose segment sizes it collected before they were set.
	scrapeMu sync.RWMutex

	// mu guards what follows. It is never held while calling into the
	// scheduler, which calls NextRun with its own lock held.
	mu sync.Mutex
	// shown holds, per gauge vector replaced per run, the label values of
	// each rule set's series, so that a replacement deletes only those
	// that went away.
	shown map[*prometheus.GaugeVec]map[string]map[string][]string
	// init is what a new process reads from its rule sets and the
	// database (metrics_init.go).
	init seriesInit
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_runs_total", Help: "Scheduled runs by rule set and status (succeeded, blocked, failed, skipped, cancelled).",
		}, []string{"ruleset", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tierflow_run_duration_seconds", Help: "Duration of scheduled runs.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}, []string{"ruleset"}),
		customers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tierflow_customers_evaluated", Help: "Customers evaluated by the last run.",
		}, []string{"ruleset"}),
		moves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_moves_total", Help: "Customers who changed segment, by segmentation (counted when a run applies).",
		}, []string{"ruleset", "segmentation"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_actions_queued_total", Help: "Actions queued, by action.",
		}, []string{"ruleset", "action"}),
		ruleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_rule_errors_total", Help: "Customers whose facts made a rule fail.",
		}, []string{"ruleset"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tierflow_last_success_timestamp_seconds", Help: "When the latest successful run of a rule set finished (Unix time), as the run record says; 0 when it never succeeded.",
		}, []string{"ruleset"}),
		nextRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tierflow_next_run_timestamp_seconds", Help: "The next scheduled slot of a rule set (Unix time).",
		}, []string{"ruleset"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_slots_missed_total", Help: "Scheduled slots that were missed and not run.",
		}, []string{"ruleset"}),
		reloadsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_rule_reload_failures_total", Help: "Rule file reloads rejected because the file failed check.",
		}, []string{"file"}),
		coverage: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tierflow_segment_coverage_ratio", Help: "Share of a segment's customers covered by its coverage target after the last applied run (0 when the segment is empty).",
		}, []string{"ruleset", "segmentation", "segment"}),
		coverageCustomers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tierflow_segment_coverage_customers", Help: "Customers of a segment with a coverage target after the last applied run, by state (covered, pending, overdue).",
		}, []string{"ruleset", "segmentation", "segment", "state"}),
		withheld: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_actions_withheld_total", Help: "Actions that fired but were not queued: held out (the holdout group) or suppressed (a contact limit), counted when a run applies.",
		}, []string{"ruleset", "action", "status"}),
		segmentCustomers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tierflow_segment_customers", Help: "Customers in each segment after the last applied run.",
		}, []string{"ruleset", "segmentation", "segment"}),
		shown: map[*prometheus.GaugeVec]map[string]map[string][]string{},
	}
	reg.MustRegister(m.runs, m.duration, m.customers, m.moves, m.actions, m.ruleErrors, m.lastSuccess, m.nextRun, m.missed, m.reloadsFailed,
		m.coverage, m.coverageCustomers, m.withheld, m.segmentCustomers, (*refresher)(m))
	return m
}

// RunFinished shows a run that ended: a scrape through gatherer that sees
// it counted sees everything else it changed (segment sizes, coverage,
// the last success).
func (m *metrics) RunFinished(ruleset string, status jobs.Status, took time.Duration, rep *jobs.PlanReport) {
	m.initPending(ruleset)
	m.scrapeMu.Lock()
	defer m.scrapeMu.Unlock()
	m.showRun(ruleset, status, took, rep)
	m.runs.WithLabelValues(ruleset, string(status)).Inc()
}

// gatherer is reg, whose scrapes see a finished run all or not at all.
func (m *metrics) gatherer(reg prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		m.scrapeMu.RLock()
		defer m.scrapeMu.RUnlock()
		return reg.Gather()
	})
}

// showRun sets what a run changed other than the count of runs.
func (m *metrics) showRun(ruleset string, status jobs.Status, took time.Duration, rep *jobs.PlanReport) {
	if status == jobs.StatusSkipped {
		return
	}
	m.duration.WithLabelValues(ruleset).Observe(took.Seconds())
	if rep == nil {
		return
	}
	m.customers.WithLabelValues(ruleset).Set(float64(rep.Customers))
	m.ruleErrors.WithLabelValues(ruleset).Add(float64(rep.Errors.Customers))
	if status != jobs.StatusSucceeded {
		return
	}
	for _, s := range rep.Segmentations {
		m.moves.WithLabelValues(ruleset, s.Name).Add(float64(s.Moved))
	}
	for _, a := range rep.Actions {
		m.actions.WithLabelValues(ruleset, a.Name).Add(float64(a.Count))
		m.withheld.WithLabelValues(ruleset, a.Name, jobs.ActionHeldOut).Add(float64(a.HeldOut))
		m.withheld.WithLabelValues(ruleset, a.Name, jobs.ActionSuppressed).Add(float64(a.Suppressed))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init.observedLocked(ruleset)
	m.lastSuccess.WithLabelValues(ruleset).SetToCurrentTime()
	m.showLocked(ruleset, rep)
}

// showLocked replaces the gauges of ruleset that describe its state after
// an applied run (segment sizes and coverage) with those of rep. m.mu is
// held.
func (m *metrics) showLocked(ruleset string, rep *jobs.PlanReport) {
	var sizes []gaugeSample
	for _, s := range rep.Segmentations {
		for _, seg := range s.Segments {
			if seg.Name != removedSegment {
				sizes = append(sizes, gaugeSample{[]string{s.Name, seg.Name}, float64(seg.After)})
			}
		}
	}
	m.replaceLocked(m.segmentCustomers, ruleset, sizes)
	m.setCoverageLocked(ruleset, rep.Coverage)
}

// removedSegment is the segment a report gives the customers of segments
// the rule file no longer has (jobs.NewPlanReport); they are in none.
const removedSegment = "(removed)"

// setCoverageLocked replaces the coverage gauges of ruleset with those of
// an applied run, so that a target removed from the rule file goes away.
// m.mu is held.
func (m *metrics) setCoverageLocked(ruleset string, coverage []jobs.CoverageReport) {
	var shares, counts []gaugeSample
	for _, c := range coverage {
		shares = append(shares, gaugeSample{[]string{c.Segmentation, c.Segment}, c.Share})
		for _, st := range []struct {
			state string
			n     int
		}{{"covered", c.Covered}, {"pending", c.Pending}, {"overdue", c.Overdue}} {
			counts = append(counts, gaugeSample{[]string{c.Segmentation, c.Segment, st.state}, float64(st.n)})
		}
	}
	m.replaceLocked(m.coverage, ruleset, shares)
	m.replaceLocked(m.coverageCustomers, ruleset, counts)
}

// gaugeSample is one series of a gauge vector whose first label is the
// rule set: the other label values and the value.
type gaugeSample struct {
	labels []string
	value  float64
}

// replaceLocked makes samples the series of vec for ruleset: it sets them
// first and then deletes those of the last replacement that are not
// among them, so that a scrape never finds the rule set without its
// gauges (a series missing from one scrape is stale to Prometheus, which
// resets the for: of an alert on it). m.mu is held.
func (m *metrics) replaceLocked(vec *prometheus.GaugeVec, ruleset string, samples []gaugeSample) {
	now := make(map[string][]string, len(samples))
	for _, s := range samples {
		lv := append([]string{ruleset}, s.labels...)
		vec.WithLabelValues(lv...).Set(s.value)
		now[strings.Join(lv, "\xff")] = lv
	}
	if m.shown[vec] == nil {
		m.shown[vec] = map[string]map[string][]string{}
	}
	for k, lv := range m.shown[vec][ruleset] {
		if _, ok := now[k]; !ok {
			vec.DeleteLabelValues(lv...)
		}
	}
	m.shown[vec][ruleset] = now
}

func (m *metrics) SlotsMissed(ruleset string, n int) {
	m.missed.WithLabelValues(ruleset).Add(float64(n))
}

// NextRun is told on every change of a rule set (start, reload) and after
// each of its ticks. A rule set reloaded with new segmentations or actions
// gets their series at once: initPending asks the scheduler for the rule
// set, so it waits in a goroutine for the scheduler, which calls NextRun
// with its lock held, to return.
func (m *metrics) NextRun(ruleset string, next time.Time) {
	m.changed(ruleset)
	go m.initPending(ruleset)
	if !next.IsZero() {
		m.nextRun.WithLabelValues(ruleset).Set(float64(next.Unix()))
	}
}

// outcomeMetrics count what serve's outcome endpoint receives.
type outcomeMetrics struct {
	requests *prometheus.CounterVec
	outcomes *prometheus.CounterVec
}

// newOutcomeMetrics registers the outcome endpoint's collectors, with
// every request result at zero.
func newOutcomeMetrics(reg prometheus.Registerer) *outcomeMetrics {
	m := &outcomeMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_outcome_requests_total", Help: "Requests to POST /v1/actions/ID/outcome, by result (recorded, unauthorized, bad_request, no_action, not_finishable, bad_outcome, ...).",
		}, []string{"result"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_outcomes_total", Help: "Outcomes recorded through serve, by action, status (done, failed) and outcome.",
		}, []string{"ruleset", "action", "status", "outcome"}),
	}
	reg.MustRegister(m.requests, m.outcomes)
	for _, r := range outcomeResults {
		m.requests.WithLabelValues(r)
	}
	return m
}

// deliveryMetrics implements jobs.WorkerObserver with Prometheus
// collectors, per destination.
type deliveryMetrics struct {
	delivered   *prometheus.CounterVec
	retried     *prometheus.CounterVec
	dead        *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	queueErrors *prometheus.CounterVec
}

// newDeliveryMetrics registers the delivery collectors, with every
// counter of the destinations named at zero, so that rates and alerts
// work before the first delivery.
func newDeliveryMetrics(reg prometheus.Registerer, destinations []string) *deliveryMetrics {
	m := &deliveryMetrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_actions_delivered_total", Help: "Actions a destination accepted.",
		}, []string{"destination"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_delivery_failures_total", Help: "Failed delivery attempts whose action is retried later.",
		}, []string{"destination"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_actions_dead_total", Help: "Actions given up on: too many attempts, too old, or a permanent failure.",
		}, []string{"destination"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tierflow_delivery_duration_seconds", Help: "Duration of delivery attempts, successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"destination"}),
		queueErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tierflow_delivery_queue_errors_total", Help: "Failed claims and finishes on the action queue, by operation.",
		}, []string{"destination", "op"}),
	}
	reg.MustRegister(m.delivered, m.retried, m.dead, m.latency, m.queueErrors)
	for _, d := range destinations {
		m.delivered.WithLabelValues(d)
		m.retried.WithLabelValues(d)
		m.dead.WithLabelValues(d)
		m.queueErrors.WithLabelValues(d, "claim")
		m.queueErrors.WithLabelValues(d, "finish")
	}
	return m
}

func (m *deliveryMetrics) OnAttempt(dest string, _ *jobs.Delivery, _ jobs.DeliveryOutcome, took time.Duration, final string) {
	m.latency.WithLabelValues(dest).Observe(took.Seconds())
	switch final {
	case jobs.ActionDone:
		m.delivered.WithLabelValues(dest).Inc()
	case jobs.ActionPending:
		m.retried.WithLabelValues(dest).Inc()
	case jobs.ActionDead:
		m.dead.WithLabelValues(dest).Inc()
	}
}

func (m *deliveryMetrics) OnQueueError(op, dest string, _ error) {
	m.queueErrors.WithLabelValues(dest, op).Inc()
}

// queueStatser is a store that counts its action queue per destination.
type queueStatser interface {
	QueueStats(ctx context.Context, now time.Time) (map[string]kernel.QueueStat, error)
}

// queueStatsTimeout bounds the query of one scrape.
const queueStatsTimeout = 2 * time.Second

// queueCollector is the queue's gauges, read from the store at scrape
// time: depth per destination and status, and the age of the oldest due
// pending action. A failed read is counted and the gauges are left out
// of that scrape.
type queueCollector struct {
	store        queueStatser
	destinations []string
	now          func() time.Time
	depth, age   *prometheus.Desc
	errors       prometheus.Counter
}

// registerQueueMetrics registers the queue gauges of store, with every
// destination named at zero.
func registerQueueMetrics(reg prometheus.Registerer, store queueStatser, destinations []string, now func() time.Time) *queueCollector {
	c := &queueCollector{
		store: store, destinations: destinations, now: now,
		depth: prometheus.NewDesc("tierflow_delivery_queue_depth",
			"Actions waiting for delivery (pending) or being delivered (claimed), by destination.", []string{"destination", "status"}, nil),
		age: prometheus.NewDesc("tierflow_delivery_oldest_due_age_seconds",
			"Seconds since the oldest due pending action of a destination was due; 0 when none is due.", []string{"destination"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tierflow_delivery_queue_stats_errors_total", Help: "Scrapes whose read of the action queue failed.",
		}),
	}
	reg.MustRegister(c)
	return c
}

// Describe implements prometheus.Collector.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.age
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.errors.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), queueStatsTimeout)
	defer cancel()
	now := c.now()
	stats, err := c.store.QueueStats(ctx, now)
	if err != nil {
		c.errors.Inc()
		return
	}
	seen := map[string]bool{}
	emit := func(dest string, st kernel.QueueStat) {
		seen[dest] = true
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(st.Pending), dest, jobs.ActionPending)
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(st.Claimed), dest, jobs.ActionClaimed)
		age := 0.0
		if !st.OldestDue.IsZero() {
			age = max(now.Sub(st.OldestDue).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age, dest)
	}
	for _, d := range c.destinations {
		emit(d, stats[d])
	}
	for d, st := range stats {
		if !seen[d] {
			emit(d, st)
		}
	}
}
