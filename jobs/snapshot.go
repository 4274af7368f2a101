package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// OpenSnapshot opens rs's customers with their facts from facts and their
// previous state from state. When state can join the source in its own
// database (Joiner), that one query is used; otherwise facts are streamed
// from the sources, merged on the key, and each batch's state is looked
// up by key in the store, so memory stays bounded by the batch size
// whatever the number of customers.
//
// Either way the customers come in key order, one per key (duplicates are
// handled as each source's on_duplicate says), and, when the store can
// list the customers it knows (StateKeys), those no source returned are
// counted and, under on_missing: exit, handed out as absent customers.
// What the pass saw is reported by Quality once it has been streamed.
func OpenSnapshot(ctx context.Context, state StateStore, facts FactsSource, rs *rules.RuleSet, opts ...SnapshotOption) (Snapshot, error) {
	var cfg snapshotConfig
	for _, o := range opts {
		o(&cfg)
	}
	facts, err := route(facts, rs)
	if err != nil {
		return nil, err
	}
	if rs.HasDerived() {
		if !cfg.shard.IsZero() {
			return nil, errShardDerived(rs)
		}
		return openDerived(ctx, state, facts, rs, cfg) // derived.go
	}
	ss := sourcesOf(facts)
	if err := ss.Check(rs); err != nil {
		return nil, err
	}
	s := &snapshot{rs: rs, sources: ss, q: newCollector(rs, ss), shard: cfg.shard, shardInitial: cfg.initial}
	if j, ok := state.(Joiner); ok && len(ss) == 1 && ss[0].Key.IsZero() {
		join, pushed := j.Join, false
		if sj, ok := state.(ShardJoiner); ok && !cfg.shard.IsZero() {
			pushed = true
			join = func(ctx context.Context, rs *rules.RuleSet, src FactsSource) (Snapshot, bool, error) {
				return sj.JoinShard(ctx, rs, src, cfg.shard)
			}
		}
		snap, joined, err := join(ctx, rs, ss[0].Facts)
		if err != nil {
			return nil, err
		}
		if joined {
			if o, ok := snap.(Ordered); ok && o.Ordered() {
				if s.follow, err = newFollowUps(rs, cfg, snap); err != nil {
					snap.Close()
					return nil, err
				}
				s.joined, s.pushed = snap, pushed
				s.keys, _ = snap.(StateKeys)
				s.stats = []SourceQuality{{Name: ss[0].Name, OnDuplicate: ss[0].onDuplicate()}}
				return s, nil
			}
			snap.Close()
		}
	}
	st, err := state.OpenState(ctx, rs)
	if err != nil {
		return nil, err
	}
	if s.follow, err = newFollowUps(rs, cfg, st); err != nil {
		st.Close()
		return nil, err
	}
	fr, err := ss.open(ctx, rs) // checked above
	if err != nil {
		st.Close()
		return nil, err
	}
	s.state, s.facts = st, fr
	s.keys, _ = st.(StateKeys)
	return s, nil
}

// snapshot is the Snapshot OpenSnapshot returns: the store's joined
// snapshot, or merged sources joined to a state reader batch by batch.
type snapshot struct {
	rs      *rules.RuleSet
	sources Sources
	// joined is the store's one-query snapshot (fast path); else state
	// and facts are read apart.
	joined Snapshot
	state  StateReader
	facts  FactsReader
	keys   StateKeys // nil when the state cannot list the customers it knows
	stats  []SourceQuality
	q      *collector
	// follow loads follow-up history batch by batch; nil when the rule
	// set needs none.
	follow *followUps
	// changed is the joined snapshot once readChanged narrowed it;
	// unread then counts, once streamed, the customers it left unread.
	changed      ChangedReader
	changedQuery ChangedQuery
	unread       *Unread
	// shard, when set, keeps the customers of one shard only (Sharded),
	// whatever the sources return, and shardInitial is then Initial.
	shard        Shard
	shardInitial bool
	// pushed is set when the store narrowed the joined snapshot to the
	// shard itself: a customer of another shard is then an error.
	pushed bool
}

func (s *snapshot) Initial() bool {
	if !s.shard.IsZero() {
		return s.shardInitial
	}
	if s.joined != nil {
		return s.joined.Initial()
	}
	return s.state.Initial()
}

func (s *snapshot) Count(ctx context.Context) (int64, error) {
	if s.joined != nil {
		return s.joined.Count(ctx)
	}
	return s.facts.Count(ctx)
}

func (s *snapshot) Close() error {
	if s.joined != nil {
		return s.joined.Close()
	}
	return errors.Join(s.facts.Close(), s.state.Close())
}

// sourceStats returns the sources' counts once the snapshot is streamed.
func (s *snapshot) sourceStats() []SourceQuality {
	if s.joined != nil {
		return s.stats
	}
	return sourceStats(s.facts)
}

func (s *snapshot) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	var it custIter
	if s.joined != nil {
		s.stats[0] = SourceQuality{Name: s.sources[0].Name, OnDuplicate: s.sources[0].onDuplicate()}
		in := &inOrder{custIter: readerIter(ctx, batchSize, s.joined.Stream), source: s.sources[0].Name}
		it = &deduped{in: in, policy: s.sources[0].onDuplicate(), st: &s.stats[0]}
	} else {
		it = readerIter(ctx, batchSize, s.facts.Stream)
	}
	defer it.close()
	var known *cursor[string]
	listKeys := func() {
		known = pull(ctx, func(ctx context.Context, fn func([]string) error) error {
			return s.keys.Keys(ctx, batchSize, fn)
		})
	}
	defer func() {
		if known != nil {
			known.close()
		}
	}()
	// A narrowed snapshot lists those who left once it has been read, when
	// its counts can show that nobody did (ChangedReader); they are handed
	// out after the others.
	if s.keys != nil && s.changed == nil {
		listKeys()
	}
	exit := s.rs.OnMissing == rules.OnMissingExit
	s.q.reset()
	s.unread = nil
	batch := make([]engine.Customer, 0, batchSize)
	var absent []engine.Customer
	flush := func() error {
		if s.joined == nil {
			batch = append(batch, absent...)
			if err := s.state.Load(ctx, batch); err != nil {
				return fmt.Errorf("read previous state: %w", err)
			}
		} else if len(absent) > 0 {
			if err := s.keys.Load(ctx, absent); err != nil {
				return fmt.Errorf("read previous state: %w", err)
			}
			batch = append(batch, absent...)
		}
		absent = nil
		if len(batch) == 0 {
			return nil
		}
		if err := s.follow.load(ctx, batch); err != nil {
			return err
		}
		err := fn(batch)
		batch = make([]engine.Customer, 0, batchSize)
		return err
	}
	gone := func(key string) error {
		if !s.shard.Contains(key) {
			return nil // another shard's
		}
		s.q.absent(exit)
		if !exit {
			return nil
		}
		absent = append(absent, engine.Customer{Key: key, Facts: make([]any, len(s.rs.Facts.Fields)), Absent: true})
		if len(batch)+len(absent) >= batchSize {
			return flush()
		}
		return nil
	}
	var next *string
	if known != nil {
		next = known.next()
	}
	for c := it.next(); c != nil; c = it.next() {
		for next != nil && *next < c.Key {
			if err := gone(*next); err != nil {
				return err
			}
			next = known.next()
		}
		if next != nil && *next == c.Key {
			next = known.next()
		}
		if !s.shard.Contains(c.Key) {
			if s.pushed {
				return fmt.Errorf("the database put customer %q in shard %s, which tierflow's hash does not: is the database's encoding UTF8? (docs/operations.md#sharded-runs)", c.Key, s.shard)
			}
			continue // another shard's
		}
		s.q.add(c)
		batch = append(batch, *c)
		if len(batch)+len(absent) >= batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	// A source that failed, or refused duplicates, fails the pass: the
	// customers it did return were evaluated, but nothing is written.
	if err := it.Err(); err != nil {
		return err
	}
	if s.joined != nil {
		if err := duplicatesErr(&s.stats[0]); err != nil {
			return err
		}
	}
	if s.keys != nil && s.changed != nil {
		listKeys()
		next = known.next()
	}
	for next != nil {
		if err := gone(*next); err != nil {
			return err
		}
		next = known.next()
	}
	if known != nil {
		if err := known.Err(); err != nil {
			return fmt.Errorf("read the customers the state knows: %w", err)
		}
	}
	if s.changed != nil {
		if err := s.finishUnread(); err != nil {
			return err
		}
	}
	return flush()
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

// LoadFollowUps leaves every customer without follow-up history.
func (noState) LoadFollowUps(context.Context, []engine.Customer, FollowUpQuery) error { return nil }
func (noState) Close() error                                                          { return nil }
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
func FindCustomer(ctx context.Context, state StateStore, facts FactsSource, rs *rules.RuleSet, key string, opts ...SnapshotOption) (*engine.Customer, error) {
	var cfg snapshotConfig
	for _, o := range opts {
		o(&cfg)
	}
	c, err := findFactsAt(ctx, facts, rs, key, cfg.asOf)
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
	f, err := newFollowUps(rs, cfg, st)
	if err != nil {
		return nil, err
	}
	if err := f.load(ctx, one); err != nil {
		return nil, fmt.Errorf("customer %s: %w", key, err)
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

// modified returns, per source, the newest modification time of its
// files, for sources that read files and are checked for freshness; zero
// otherwise.
func (s *snapshot) modified() []time.Time {
	out := make([]time.Time, len(s.sources))
	var readers []part
	if m, ok := s.facts.(*merged); ok {
		readers = m.parts
	}
	for i, src := range s.sources {
		if src.FreshWithin == 0 || src.FreshFact != "" {
			continue
		}
		var cands []any
		if i < len(readers) {
			cands = append(cands, readers[i].reader)
		}
		cands = append(cands, src.Facts)
		for _, c := range cands {
			if m, ok := c.(interface{ Modified() (time.Time, error) }); ok {
				if t, err := m.Modified(); err == nil {
					out[i] = t
				}
				break
			}
		}
	}
	return out
}

// ReadsJoined reports whether a snapshot OpenSnapshot opened reads the
// facts joined to the state in one query by the store (Joiner), rather
// than looking the state up by key batch by batch: benchmarks and tests
// check which path a wiring takes.
func ReadsJoined(snap Snapshot) bool {
	s, ok := unwrapSnapshot(snap).(*snapshot)
	return ok && s.joined != nil
}
