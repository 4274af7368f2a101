package jobs

import (
	"context"
	"fmt"
	"sync"
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
func PlanDiff(ctx context.Context, store Store, baseline, proposed *rules.RuleSet, opts Options, limits DiffLimits) (*DiffReport, error) {
	opts.normalize()
	union, err := unionOf(baseline, proposed)
	if err != nil {
		return nil, err
	}
	snap, err := store.Snapshot(ctx, union.rs)
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
	batches := make(chan []engine.Customer, opts.Workers)
	g.Go(func() error {
		defer close(batches)
		return snap.Stream(gctx, opts.BatchSize, func(b []engine.Customer) error {
			select {
			case batches <- b:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	diffs := make([]*engine.Diff, opts.Workers)
	var mu sync.Mutex
	var done int64
	for i := range diffs {
		d := engine.NewDiff(baseline, proposed)
		diffs[i] = d
		g.Go(func() error {
			var before, after engine.Result
			for b := range batches {
				for j := range b {
					c := &b[j]
					propEngine.EvaluateInto(opts.AsOf, union.side(c, union.prop), &after)
					var bp *engine.Result
					if baseEngine != nil {
						baseEngine.EvaluateInto(opts.AsOf, union.side(c, union.base), &before)
						bp = &before
					}
					d.Add(c.Key, bp, &after)
				}
				if opts.Progress != nil {
					mu.Lock()
					done += int64(len(b))
					n := done
					mu.Unlock()
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
	u := &union{rs: &rules.RuleSet{Name: proposed.Name, Key: proposed.Key}}
	fields := append([]rules.Field(nil), proposed.Facts.Fields...)
	segs := append([]*rules.Segmentation(nil), proposed.Segmentations...)
	acts := append([]*rules.Action(nil), proposed.Actions...)
	u.prop = &layout{identity: true}
	if baseline != nil {
		if baseline.Key != proposed.Key {
			return nil, fmt.Errorf("the change renames the key column from %q to %q; preview it against the database instead", baseline.Key, proposed.Key)
		}
		u.base = &layout{}
		for _, f := range baseline.Facts.Fields {
			i := indexOf(len(fields), func(k int) bool { return fields[k].Name == f.Name })
			if i < 0 {
				i = len(fields)
				fields = append(fields, f)
			}
			u.base.facts = append(u.base.facts, i)
		}
		for _, s := range baseline.Segmentations {
			i := indexOf(len(segs), func(k int) bool { return segs[k].Name == s.Name })
			if i < 0 {
				i = len(segs)
				segs = append(segs, s)
			}
			u.base.segs = append(u.base.segs, i)
		}
		for _, a := range baseline.Actions {
			i := indexOf(len(acts), func(k int) bool { return acts[k].Name == a.Name })
			if i < 0 {
				i = len(acts)
				acts = append(acts, a)
			} else if a.Cooldown > acts[i].Cooldown {
				// Read the last-queued time if either side needs it.
				cp := *acts[i]
				cp.Cooldown = a.Cooldown
				acts[i] = &cp
			}
			u.base.acts = append(u.base.acts, i)
		}
	}
	schema, err := rules.NewSchema(fields)
	if err != nil {
		return nil, err
	}
	u.rs.Facts, u.rs.Segmentations, u.rs.Actions = schema, segs, acts
	return u, nil
}

func indexOf(n int, match func(int) bool) int {
	for i := 0; i < n; i++ {
		if match(i) {
			return i
		}
	}
	return -1
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
