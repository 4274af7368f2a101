package jobs

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/rules"
)

// DiffLimits fail a rule-change preview that would change too much.
type DiffLimits struct {
	// MaxMovedShare is the largest share of customers (0 to 1) whose
	// classification may differ; 0 means no limit.
	MaxMovedShare float64
	// MaxActions caps, per action name, how many customers may gain or
	// lose that action; the key "" caps the total. Absent means no limit.
	MaxActions map[string]int
}

// PlanDiff evaluates baseline and proposed, two versions of one rule set,
// on the same snapshot of facts and previous state, and reports only what
// the rule change causes. baseline is nil for a new rule set. It writes
// nothing.
func PlanDiff(ctx context.Context, state StateStore, facts FactsSource, baseline, proposed *rules.RuleSet, opts Options, limits DiffLimits) (*DiffReport, error) {
	opts.normalize()
	union, err := unionOf(baseline, proposed)
	if err != nil {
		return nil, err
	}
	snap, err := OpenSnapshot(ctx, state, facts, union.rs, At(opts.AsOf))
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	total := int64(-1)
	if opts.Progress != nil {
		if n, err := snap.Count(ctx); err == nil {
			total = n
		}
	}
	propEngine := engine.New(proposed)
	var baseEngine *engine.Engine
	if baseline != nil {
		baseEngine = engine.New(baseline)
	}
	// Actions are compared even on a first run (or a facts file with no
	// previous state): both sides are treated alike, so the difference is
	// still what the rule change causes.
	g, gctx := errgroup.WithContext(ctx)
	batches := stream(gctx, g, snap, opts)
	diffs := make([]*engine.Diff, opts.Workers)
	var done atomic.Int64
	for i := range diffs {
		d := engine.NewDiff(baseline, proposed)
		diffs[i] = d
		g.Go(func() error {
			var before, after engine.Result
			for b := range batches {
				for j := range b {
					if j%checkEvery == 0 {
						if err := gctx.Err(); err != nil {
							return err
						}
					}
					c := &b[j]
					propEngine.EvaluateInto(opts.AsOf, union.side(c, union.prop), &after)
					var bp *engine.Result
					if baseEngine != nil {
						baseEngine.EvaluateInto(opts.AsOf, union.side(c, union.base), &before)
						bp = &before
					}
					d.Add(c.Key, bp, &after)
				}
				if n := done.Add(int64(len(b))); opts.Progress != nil {
					opts.Progress(n, total)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	diff := diffs[0]
	for _, d := range diffs[1:] {
		diff.Merge(d)
	}
	rep := NewDiffReport(diff, opts.AsOf)
	rep.Initial = snap.Initial()
	rep.Quality = qualityOf(snap, opts.AsOf, nil)
	rep.Limits = limits.check(diff)
	return rep, nil
}

// union is a rule-set shape covering both sides, for reading one
// snapshot: every fact, segmentation and action either side needs.
type union struct {
	rs         *rules.RuleSet
	base, prop *layout
}

// layout maps one side's facts, segmentations and actions to their
// places in the union's rows. identity means the side is a prefix of the
// union and needs no copying.
type layout struct {
	facts, segs, acts []int
	identity          bool
}

func unionOf(baseline, proposed *rules.RuleSet) (*union, error) {
	u := &union{rs: &rules.RuleSet{Name: proposed.Name, Key: proposed.Key, Timezone: proposed.Timezone, Location: proposed.Location}}
	fields := append([]rules.Field(nil), proposed.Facts.Fields...)
	segs := append([]*rules.Segmentation(nil), proposed.Segmentations...)
	acts := append([]*rules.Action(nil), proposed.Actions...)
	u.prop = &layout{identity: true}
	if baseline != nil {
		if baseline.Key != proposed.Key {
			return nil, fmt.Errorf("the change renames the key column from %q to %q; preview it against the database instead", baseline.Key, proposed.Key)
		}
		u.base = &layout{}
		var err error
		if fields, u.base.facts, err = mergeFacts(fields, baseline.Facts.Fields); err != nil { // derived_diff.go
			return nil, err
		}
		segs, u.base.segs = mergeByName(segs, baseline.Segmentations, func(s *rules.Segmentation) string { return s.Name }, nil)
		acts, u.base.acts = mergeByName(acts, baseline.Actions, func(a *rules.Action) string { return a.Name },
			func(have, b *rules.Action) *rules.Action {
				if b.Cooldown <= have.Cooldown {
					return have
				}
				// Read the last-queued time if either side needs it.
				cp := *have
				cp.Cooldown = b.Cooldown
				return &cp
			})
	}
	schema, err := rules.NewSchema(fields)
	if err != nil {
		return nil, err
	}
	u.rs.Facts, u.rs.Segmentations, u.rs.Actions = schema, segs, acts
	return u, nil
}

// mergeByName appends to have the items of add it lacks, by name, and
// returns where each item of add sits in the result. When both have an
// item, merge (if set) chooses the one to keep.
func mergeByName[T any](have, add []T, name func(T) string, merge func(have, add T) T) ([]T, []int) {
	at := make(map[string]int, len(have))
	for i, x := range have {
		at[name(x)] = i
	}
	idx := make([]int, len(add))
	for k, x := range add {
		i, ok := at[name(x)]
		switch {
		case !ok:
			i = len(have)
			have = append(have, x)
		case merge != nil:
			have[i] = merge(have[i], x)
		}
		idx[k] = i
	}
	return have, idx
}

// side returns the customer as one side's rule set expects it.
func (u *union) side(c *engine.Customer, l *layout) *engine.Customer {
	if l.identity {
		return c
	}
	out := &engine.Customer{Key: c.Key, Facts: make([]any, len(l.facts))}
	for i, k := range l.facts {
		if k < len(c.Facts) {
			out.Facts[i] = c.Facts[k]
		}
	}
	out.State.Segments = make([]engine.Assignment, len(l.segs))
	for i, k := range l.segs {
		if k < len(c.State.Segments) {
			out.State.Segments[i] = c.State.Segments[k]
		}
	}
	out.State.LastActions = make([]time.Time, len(l.acts))
	for i, k := range l.acts {
		if k < len(c.State.LastActions) {
			out.State.LastActions[i] = c.State.LastActions[k]
		}
	}
	return out
}

func (l DiffLimits) check(d *engine.Diff) LimitReport {
	var r LimitReport
	if l.MaxMovedShare > 0 && d.Customers > 0 {
		share := float64(d.Differ) / float64(d.Customers)
		if share > l.MaxMovedShare {
			r.Crossed = true
			r.Reasons = append(r.Reasons, fmt.Sprintf("--max-moved: %d of %d customers (%.2f%%) would be treated differently, over the limit of %.2f%% by %.2f points",
				d.Differ, d.Customers, share*100, l.MaxMovedShare*100, (share-l.MaxMovedShare)*100))
		}
	}
	changed := map[string]int{}
	total := 0
	for name, n := range d.ActionsAdded {
		changed[name] += n
		total += n
	}
	for name, n := range d.ActionsRemoved {
		changed[name] += n
		total += n
	}
	for name, limit := range l.MaxActions {
		n := total
		label := "in total"
		if name != "" {
			n, label = changed[name], "for "+name
		}
		if n > limit {
			r.Crossed = true
			r.Reasons = append(r.Reasons, fmt.Sprintf("--max-actions: %d customers would gain or lose an action %s, over the limit of %d by %d", n, label, limit, n-limit))
		}
	}
	return r
}
