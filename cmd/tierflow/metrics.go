package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tierflow/tierflow/jobs"
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
			Name: "tierflow_last_success_timestamp_seconds", Help: "When the last successful run of a rule set finished (Unix time).",
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
	}
	reg.MustRegister(m.runs, m.duration, m.customers, m.moves, m.actions, m.ruleErrors, m.lastSuccess, m.nextRun, m.missed, m.reloadsFailed)
	return m
}

func (m *metrics) RunFinished(ruleset string, status jobs.Status, took time.Duration, rep *jobs.PlanReport) {
	m.runs.WithLabelValues(ruleset, string(status)).Inc()
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
	m.lastSuccess.WithLabelValues(ruleset).SetToCurrentTime()
	for _, s := range rep.Segmentations {
		m.moves.WithLabelValues(ruleset, s.Name).Add(float64(s.Moved))
	}
	for _, a := range rep.Actions {
		m.actions.WithLabelValues(ruleset, a.Name).Add(float64(a.Count))
	}
}

func (m *metrics) SlotsMissed(ruleset string, n int) {
	m.missed.WithLabelValues(ruleset).Add(float64(n))
}

func (m *metrics) NextRun(ruleset string, next time.Time) {
	if !next.IsZero() {
		m.nextRun.WithLabelValues(ruleset).Set(float64(next.Unix()))
	}
}
