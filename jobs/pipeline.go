package jobs

import (
	"context"
	"errors"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// part is one opened source of a merged reader.
type part struct {
	src    *Source
	sub    *rules.RuleSet
	pos    []int // places of sub's facts in the rule set's schema; nil: the same
	reader FactsReader
}

// merged is the facts reader of Sources: every source's customers,
// normalised, in key order, one per key, with the facts of all sources
// joined on the key. Its stats are filled as it streams.
type merged struct {
	rs    *rules.RuleSet
	parts []part
	stats []SourceQuality
}

func (m *merged) Ordered() bool { return true }

func (m *merged) Count(ctx context.Context) (int64, error) {
	return m.parts[0].reader.Count(ctx)
}

func (m *merged) Close() error {
	var errs []error
	for _, p := range m.parts {
		errs = append(errs, p.reader.Close())
	}
	return errors.Join(errs...)
}

// sourceIter is the stage chain of one source: read, normalise keys,
// check or establish key order, and keep one row per key.
func sourceIter(ctx context.Context, batchSize int, src *Source, r FactsReader, st *SourceQuality) custIter {
	var it custIter = readerIter(ctx, batchSize, r.Stream)
	if !src.Key.IsZero() {
		it = &normalized{custIter: it, k: src.Key}
	}
	if o, ok := r.(Ordered); ok && o.Ordered() && src.Key.IsZero() {
		it = &inOrder{custIter: it, source: src.Name}
	} else {
		it = sortIter(ctx, it)
	}
	return &deduped{in: it, policy: src.onDuplicate(), st: st}
}

func (m *merged) Stream(ctx context.Context, batchSize int, fn func([]engine.Customer) error) error {
	its := make([]custIter, len(m.parts))
	for i := range m.parts {
		m.stats[i] = SourceQuality{Name: m.parts[i].src.Name, OnDuplicate: m.parts[i].src.onDuplicate()}
		its[i] = sourceIter(ctx, batchSize, m.parts[i].src, m.parts[i].reader, &m.stats[i])
	}
	defer func() {
		for _, it := range its {
			it.close()
		}
	}()
	heads := make([]*engine.Customer, len(its))
	for i := 1; i < len(its); i++ {
		heads[i] = its[i].next()
	}
	n := len(m.rs.Facts.Fields)
	batch := make([]engine.Customer, 0, batchSize)
	for {
		p := its[0].next()
		if p == nil {
			break
		}
		c := *p
		if len(m.parts) > 1 || m.parts[0].pos != nil {
			c = m.place(0, c, engine.Customer{Key: c.Key, Facts: make([]any, n)})
			for i := 1; i < len(its); i++ {
				for heads[i] != nil && heads[i].Key < c.Key {
					m.stats[i].Unmatched++
					heads[i] = its[i].next()
				}
				if heads[i] != nil && heads[i].Key == c.Key {
					c = m.place(i, *heads[i], c)
					heads[i] = its[i].next()
				}
			}
		}
		batch = append(batch, c)
		if len(batch) == batchSize {
			if err := fn(batch); err != nil {
				return err
			}
			batch = make([]engine.Customer, 0, batchSize)
		}
	}
	var errs []error
	for i, it := range its {
		if i > 0 {
			for heads[i] != nil {
				m.stats[i].Unmatched++
				heads[i] = its[i].next()
			}
		}
		if err := it.Err(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if len(batch) > 0 {
		if err := fn(batch); err != nil {
			return err
		}
	}
	for i := range m.stats {
		errs = append(errs, duplicatesErr(&m.stats[i]))
	}
	return errors.Join(errs...)
}

// place copies the facts and fact errors of part i's customer from into
// the merged customer to.
func (m *merged) place(i int, from, to engine.Customer) engine.Customer {
	pos := m.parts[i].pos
	for k, v := range from.Facts {
		if k < len(pos) {
			to.Facts[pos[k]] = v
		}
	}
	to.FactErrors = append(to.FactErrors, from.FactErrors...)
	return to
}

// sourceStats returns the per-source counts of a facts reader, when it is
// a merged one.
func sourceStats(r any) []SourceQuality {
	if m, ok := r.(*merged); ok {
		return m.stats
	}
	return nil
}
