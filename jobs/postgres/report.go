package postgres

import (
	"context"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.ReportSource = (*Store)(nil)

// reportSQL reads class reports' rows from the tierflow schema's runs
// and actions tables: the run record by runs_ruleset_started, the
// queue's counts grouped by the database, from the period's rows alone
// where actions_created (migration 0007) finds them sooner than a scan.
// What a year's counts cost is reading each row's segments as text (one
// parallel scan): BenchmarkClassReport has the figures.
func (s *Store) reportSQL() *kernel.ReportSQL {
	return &kernel.ReportSQL{DB: s.db.DB, Dialect: Dialect, Runs: s.table("runs"), Actions: s.table("actions"), Secrets: s.secrets}
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
