package sqlite

import (
	"context"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.ReportSource = (*Store)(nil)

// reportSQL reads class reports' rows on the read-only connections:
// the run record by runs_ruleset_started, the queue's counts grouped by
// SQLite from actions_created (migration 0007) alone, which holds every
// column they read.
func (s *Store) reportSQL() *kernel.ReportSQL {
	return &kernel.ReportSQL{DB: s.ro.DB, Dialect: Dialect, Runs: "main.runs", Actions: "main.actions"}
}

// RunRecords streams the rule set's runs started in [from, until],
// oldest first, with their stored reports. It implements
// jobs.ReportSource.
func (s *Store) RunRecords(ctx context.Context, ruleset string, from, until time.Time, fn func(*jobs.RunRecord) error) error {
	if err := s.checkSchema(ctx); err != nil {
		return err
	}
	return s.reportSQL().RunRecords(ctx, ruleset, from, until, fn)
}

// ActionCounts streams the counts of the rule set's actions created in
// [from, until] by action, status and segments. It implements
// jobs.ReportSource.
func (s *Store) ActionCounts(ctx context.Context, ruleset string, from, until time.Time, fn func(*jobs.ActionCount) error) error {
	if err := s.checkSchema(ctx); err != nil {
		return err
	}
	return s.reportSQL().ActionCounts(ctx, ruleset, from, until, fn)
}
