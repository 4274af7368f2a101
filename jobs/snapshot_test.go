package jobs_test

import (
	"context"
	"testing"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// ownSource is a facts source that only its store can join.
type ownSource struct{ found bool }

func (s *ownSource) OpenFacts(context.Context, *rules.RuleSet) (jobs.FactsReader, error) {
	panic("the joined path must not stream the source on its own")
}

func (s *ownSource) FindFacts(_ context.Context, _ *rules.RuleSet, key string) (*engine.Customer, error) {
	s.found = true
	return &engine.Customer{Key: key}, nil
}

// joiningStore joins only its own source, and records that it did.
type joiningStore struct {
	jobs.NoState
	own    *ownSource
	joined bool
}

func (j *joiningStore) Join(_ context.Context, _ *rules.RuleSet, src jobs.FactsSource) (jobs.Snapshot, bool, error) {
	if src != jobs.FactsSource(j.own) {
		return nil, false, nil
	}
	j.joined = true
	return orderedSnapshot{}, true, nil
}

// orderedSnapshot is an empty snapshot in key order, as stores' are.
type orderedSnapshot struct{}

func (orderedSnapshot) Ordered() bool                        { return true }
func (orderedSnapshot) Initial() bool                        { return true }
func (orderedSnapshot) Count(context.Context) (int64, error) { return 0, nil }
func (orderedSnapshot) Close() error                         { return nil }
func (orderedSnapshot) Stream(context.Context, int, func([]engine.Customer) error) error {
	return nil
}

// A run routed through FactsByRuleSet reaches the store's Joiner and the
// source's CustomerFinder with the rule set's own source: the fast paths
// are not lost behind the router.
func TestRoutedSourcesKeepTheirFastPaths(t *testing.T) {
	schema, err := rules.NewSchema(nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := &rules.RuleSet{Name: "retail", Facts: schema}
	own := &ownSource{}
	st := &joiningStore{own: own}
	routed := jobs.FactsByRuleSet{"retail": own}
	if _, err := jobs.OpenSnapshot(context.Background(), st, routed, rs); err != nil || !st.joined {
		t.Fatalf("OpenSnapshot through the router: joined=%v, err=%v; want the store's one-query join", st.joined, err)
	}
	if _, err := jobs.FindCustomer(context.Background(), st, routed, rs, "42"); err != nil || !own.found {
		t.Fatalf("FindCustomer through the router: found=%v, err=%v; want the source's own lookup", own.found, err)
	}
	if _, err := jobs.OpenSnapshot(context.Background(), st, jobs.FactsByRuleSet{}, rs); err == nil {
		t.Fatal("a rule set with no route opened a snapshot")
	}
}
