package sqlite

import (
	"context"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/kernel"
	"github.com/tierflow/tierflow/rules"
)

// testStore is a store with the facts sources a test configured, by rule
// set name, all on the store's own file.
type testStore struct {
	*Store
	sources map[string]string
}

func openTest(ctx context.Context, cfg Config, sources map[string]string) (testStore, error) {
	s, err := Open(ctx, cfg)
	return testStore{Store: s, sources: sources}, err
}

func (s testStore) facts() jobs.FactsByRuleSet {
	f := jobs.FactsByRuleSet{}
	for name, q := range s.sources {
		f[name] = s.Source(q)
	}
	return f
}

func (s testStore) source(rs *rules.RuleSet) *kernel.QuerySource { return s.Source(s.sources[rs.Name]) }

func (s testStore) CheckSource(ctx context.Context, rs *rules.RuleSet) ([]string, error) {
	return s.source(rs).CheckFacts(ctx, rs)
}

func (s testStore) SourceColumns(ctx context.Context, rs *rules.RuleSet) ([]kernel.Column, error) {
	return s.source(rs).Columns(ctx, rs)
}

func (s testStore) SourceSchema(ctx context.Context, rs *rules.RuleSet) (*rules.Schema, error) {
	return s.source(rs).FactsSchema(ctx, rs)
}

func (s testStore) Customer(ctx context.Context, rs *rules.RuleSet, key string, opts ...jobs.SnapshotOption) (*engine.Customer, error) {
	return jobs.FindCustomer(ctx, s.Store, s.facts(), rs, key, opts...)
}
