package sqlite

import (
	"context"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
)

var _ jobs.CustomerRecordReader = (*Store)(nil)

// CustomerRecord reads what the store keeps of one customer of a rule
// set, on the read-only connections. It implements
// jobs.CustomerRecordReader, for explain --run.
func (s *Store) CustomerRecord(ctx context.Context, ruleset, key string) (*jobs.CustomerRecord, error) {
	if err := s.checkSchema(ctx); err != nil {
		return nil, err
	}
	return kernel.CustomerRecord(ctx, s.ro.DB, Dialect, s.tables(), ruleset, key, nil)
}
