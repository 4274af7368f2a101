package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// OpenSnapshot opens rs's customers with their facts from facts and their
// previous state from state. When state can join the source in its own
// database (Joiner), that one query is used; otherwise facts are streamed
// from the source and each batch's state is looked up by key in the
// store, so memory stays bounded by the batch size whatever the number of
// customers.
func OpenSnapshot(ctx context.Context, state StateStore, facts FactsSource, rs *rules.RuleSet) (Snapshot, error) {
	facts, err := route(facts, rs)
	if err != nil {
		return nil, err
	}
	if j, ok := state.(Joiner); ok {
		snap, joined, err := j.Join(ctx, rs, facts)
		if err != nil || joined {
			return snap, err
		}
	}
	st, err := state.OpenState(ctx, rs)
	if err != nil {
		return nil, err
	}
	fr, err := facts.OpenFacts(ctx, rs)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &joined{state: st, facts: fr}, nil
}

// joined is a snapshot made of a facts reader and a state reader, joined
// batch by batch on the customer key.
type joined struct {
	state StateReader
	facts FactsReader
}

func (j *joined) Initial() bool                            { return j.state.Initial() }
func (j *joined) Count(ctx context.Context) (int64, error) { return j.facts.Count(ctx) }
func (j *joined) Close() error                             { return errors.Join(j.facts.Close(), j.state.Close()) }

func (j *joined) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	return j.facts.Stream(ctx, batchSize, func(batch []engine.Customer) error {
		if err := j.state.Load(ctx, batch); err != nil {
			return fmt.Errorf("read previous state: %w", err)
		}
		return fn(batch)
	})
}

// route resolves a FactsByRuleSet to the rule set's own source, so that a
// Joiner or a CustomerFinder sees the source itself.
func route(facts FactsSource, rs *rules.RuleSet) (FactsSource, error) {
	if r, ok := facts.(FactsByRuleSet); ok {
		facts = r.For(rs.Name)
	}
	if facts == nil {
		return nil, fmt.Errorf("no facts source is configured for rule set %q: add it under rulesets: in the config file", rs.Name)
	}
	return facts, nil
}

// FactsByRuleSet routes each rule set to its own facts source, by name.
type FactsByRuleSet map[string]FactsSource

// OpenFacts opens the source configured for rs.
func (m FactsByRuleSet) OpenFacts(ctx context.Context, rs *rules.RuleSet) (FactsReader, error) {
	src, ok := m[rs.Name]
	if !ok || src == nil {
		return nil, fmt.Errorf("no facts source is configured for rule set %q: add it under rulesets: in the config file", rs.Name)
	}
	return src.OpenFacts(ctx, rs)
}

// For returns the source configured for the rule set name, or nil.
func (m FactsByRuleSet) For(name string) FactsSource { return m[name] }

// NoState is a state store with nothing in it that cannot be applied to:
// previews of a facts file in CI, where there is no database.
type NoState struct{}

// OpenState returns a view in which every customer is new.
func (NoState) OpenState(_ context.Context, rs *rules.RuleSet) (StateReader, error) {
	return noState{rs}, nil
}

// BeginApply refuses: there is nowhere to write.
func (NoState) BeginApply(context.Context, *rules.RuleSet, RunInfo) (ApplyTx, error) {
	return nil, errors.New("there is no state store to apply to: configure a database, or plan only")
}

type noState struct{ rs *rules.RuleSet }

func (noState) Initial() bool { return true }
func (noState) Close() error  { return nil }
func (n noState) Load(_ context.Context, batch []engine.Customer) error {
	for i := range batch {
		emptyState(&batch[i], n.rs)
	}
	return nil
}

// emptyState gives c the state of a customer the store does not know:
// one unassigned entry per segmentation of rs and no last actions.
func emptyState(c *engine.Customer, rs *rules.RuleSet) {
	c.State.Segments = make([]engine.Assignment, len(rs.Segmentations))
	c.State.LastActions = nil
}

// CustomerFinder is implemented by facts sources that can read one
// customer's facts without a pass over all of them.
type CustomerFinder interface {
	FindFacts(ctx context.Context, rs *rules.RuleSet, key string) (*engine.Customer, error)
}

// FindCustomer reads one customer's facts from facts and previous state
// from state, for explain.
func FindCustomer(ctx context.Context, state StateStore, facts FactsSource, rs *rules.RuleSet, key string) (*engine.Customer, error) {
	c, err := findFacts(ctx, facts, rs, key)
	if err != nil {
		return nil, err
	}
	st, err := state.OpenState(ctx, rs)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	one := []engine.Customer{*c}
	if err := st.Load(ctx, one); err != nil {
		return nil, fmt.Errorf("read the state of customer %s: %w", key, err)
	}
	return &one[0], nil
}

var errFound = errors.New("found")

func findFacts(ctx context.Context, facts FactsSource, rs *rules.RuleSet, key string) (*engine.Customer, error) {
	facts, err := route(facts, rs)
	if err != nil {
		return nil, err
	}
	if f, ok := facts.(CustomerFinder); ok {
		return f.FindFacts(ctx, rs, key)
	}
	fr, err := facts.OpenFacts(ctx, rs)
	if err != nil {
		return nil, err
	}
	defer fr.Close()
	var found *engine.Customer
	err = fr.Stream(ctx, 1000, func(batch []engine.Customer) error {
		for i := range batch {
			if batch[i].Key == key {
				found = &batch[i]
				return errFound
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("no customer %q in the facts source of %s", key, rs.Name)
	}
	return found, nil
}
