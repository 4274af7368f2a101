package jobs_test

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// countingShop is fakeShop's runs with counts that have an as-of, bounded
// as a store bounds them, recording the bounds of each ActionCounts; it
// counts effects itself (jobs.EffectCounter), from observations held in
// memory.
type countingShop struct {
	*fakeSource
	at       []time.Time // of each count
	observed []jobs.EffectCount
	mu       sync.Mutex
	bounds   [][2]time.Time
}

func (c *countingShop) ActionCounts(_ context.Context, _ string, from, until time.Time, fn func(*jobs.ActionCount) error) error {
	c.mu.Lock()
	c.bounds = append(c.bounds, [2]time.Time{from, until})
	c.mu.Unlock()
	for i := range c.counts {
		if at := c.at[i]; !at.Before(from) && !at.After(until) {
			if err := fn(&c.counts[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *countingShop) Decisions(context.Context, jobs.EffectsQuery, func(*jobs.ActionDecision) error) error {
	panic("a store that counts effects is not asked for its decisions")
}

func (c *countingShop) Moves(context.Context, jobs.EffectsQuery, func(*jobs.HistoryMove) error) error {
	panic("a store that counts effects is not asked for its moves")
}

func (c *countingShop) EffectCounts(_ context.Context, _ jobs.EffectCountsQuery, fn func(*jobs.EffectCount) error) error {
	for i := range c.observed {
		if err := fn(&c.observed[i]); err != nil {
			return err
		}
	}
	return nil
}

// newCountingShop is the shop with a holdout and a cost on call, two
// first calls observed (one held out), and the queue's calls on day 0,
// plus one on day lateDay.
func newCountingShop(lateDay int) (*countingShop, func(t *testing.T) *rules.RuleSet) {
	c := &countingShop{fakeSource: fakeShop()}
	for range c.counts {
		c.at = append(c.at, day0)
	}
	c.counts = append(c.counts, jobs.ActionCount{Action: "call", Status: jobs.ActionDone, Segments: map[string]string{"tier": "vip"}, Count: 7})
	c.at = append(c.at, day0.AddDate(0, 0, lateDay))
	c.observed = []jobs.EffectCount{
		{Action: "call", Segments: []string{"vip", "active"}, Observed: []int64{1}, Spent: []int64{2}},
		{Action: "call", HeldOut: true, Segments: []string{"vip", "active"}, Observed: []int64{1}, Spent: []int64{0}},
		{Action: "call", HeldOut: true, Segments: []string{"vip", "active"}, Segmentation: "lifecycle", To: "churned", Observed: []int64{1}},
	}
	ruleSet := func(t *testing.T) *rules.RuleSet {
		rs := shopRuleSet(t)
		rs.Actions[0].Holdout = rules.Holdout{BasisPoints: 5000, Salt: "x"}
		rs.Actions[0].Cost = 3
		return rs
	}
	return c, ruleSet
}

// The class report's effects take their cost per class from the counts
// the report read when their period is the same: no second count of the
// queue. Without an end, the report checks that the queue holds nothing
// after the latest run before it reuses them, and counts the period's
// again when it does.
func TestClassReportEffectsReuseTheCounts(t *testing.T) {
	t.Parallel()
	horizons := []int{5}
	for _, tc := range []struct {
		name    string
		until   time.Time
		late    int // the day of the last call
		bounds  int // ActionCounts calls
		queued  int // treated calls in vip, what the cost counts
		recount bool
	}{
		{"an end", day0.AddDate(0, 0, 30), 30, 1, 3 + 7, false},
		{"no end, nothing later", time.Time{}, 25, 2, 3 + 7, false},
		{"no end, a call later", time.Time{}, 40, 3, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, ruleSet := newCountingShop(tc.late)
			rs := ruleSet(t)
			rep, err := jobs.BuildClassReport(context.Background(), src, rs, jobs.ClassReportOptions{From: day0, Until: tc.until,
				Effects: true, Horizons: horizons, MinGroup: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(src.bounds) != tc.bounds {
				t.Fatalf("%d counts of the queue %v; want %d", len(src.bounds), src.bounds, tc.bounds)
			}
			if last := src.bounds[len(src.bounds)-1]; tc.recount && (!last[0].Equal(day0) || !last[1].Equal(rep.Until)) {
				t.Errorf("the effects counted %v; want the report's period, %s to %s", last, day0, rep.Until)
			}
			eff := rep.Effects
			if eff == nil || len(eff.Effects) == 0 {
				t.Fatalf("effects %+v", eff)
			}
			var queued int
			for _, c := range eff.Costs {
				if c.Action == "call" && c.Segmentation == "tier" && c.Segment == "vip" {
					queued = c.Queued
				}
			}
			if queued != tc.queued {
				t.Errorf("%d calls cost in vip; want %d: %+v", queued, tc.queued, eff.Costs)
			}
			// The same as the effects report on its own, which counts the
			// queue of its period itself.
			alone, err := jobs.Effects(context.Background(), src, rs, jobs.EffectsOptions{From: rep.From, Until: rep.Until,
				Latest: eff.Latest, Horizons: horizons, MinGroup: 1})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(alone, eff) {
				t.Errorf("in the class report %+v\n\talone %+v", eff, alone)
			}
		})
	}
}

// A count that does not fit the query (segments or horizons of another
// shape) is an error, not a panic or a wrong figure.
func TestEffectsRefuseAMisshapenCount(t *testing.T) {
	t.Parallel()
	src, ruleSet := newCountingShop(0)
	src.observed = []jobs.EffectCount{{Action: "call", Segments: []string{"vip"}, Observed: []int64{1}, Spent: []int64{0}}}
	_, err := jobs.Effects(context.Background(), src, ruleSet(t), jobs.EffectsOptions{From: day0, Until: day0.AddDate(0, 0, 30),
		Latest: day0.AddDate(0, 0, 30), Horizons: []int{5}})
	if err == nil {
		t.Fatal("no error")
	}
}
