package engine_test

import (
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
)

// wakeStickyRules holds customers in gold by min_stay and in silver by
// downgrade_grace, and queues actions with and without cooldowns.
const wakeStickyRules = `
ruleset: sticky
limits:
  per_customer: 1 per 7d
facts:
  spend: number
  flag: integer
segmentations:
  - name: tier
    segments:
      - name: gold
        when: spend > 1000
        min_stay: 30d
      - name: silver
        when: spend > 100
        downgrade_grace: 10d
      - name: basic
        fallback: true
  - name: band
    segments:
      - name: long
        when: days_in("tier") >= 20
      - name: short
        fallback: true
actions:
  - name: ping
    when: flag == 1
    cooldown: 7d
    payload:
      days: =days_in("tier")
  - name: spam
    when: flag == 2
  - name: greet
    when: flag == 3 && entered("band", "long")
    cooldown: 3d
`

// coveredRules has a coverage target that actions read.
const coveredRules = `
ruleset: covered
facts:
  spend: number
segmentations:
  - name: tier
    segments:
      - name: vip
        when: spend >= 100
        coverage: {every: 28d, by: [visit], counts: [reached]}
      - name: rest
        fallback: true
actions:
  - name: visit
    when: overdue("tier") || days_since_covered("tier") > 40
    cooldown: 7d
    outcomes: [reached]
`

func TestWakeMechanics(t *testing.T) {
	t.Parallel()
	at := retailAsOf
	// band follows days_in("tier"); greet reads its transitions.
	prev := func(tier engine.Assignment) map[string]engine.Assignment {
		band := engine.Assignment{Segment: "short", Since: at.Add(-400 * day)}
		if at.Sub(tier.Since) >= 20*day {
			band.Segment = "long"
		}
		return map[string]engine.Assignment{"tier": tier, "band": band}
	}
	vip := map[string]engine.Assignment{"tier": {Segment: "vip", Since: at.Add(-100 * day)}}
	runWakeCases(t, []wakeCase{
		{name: "min_stay holds until the stay ends", rules: wakeStickyRules,
			c:    in{facts: map[string]any{"spend": 50}, prev: prev(engine.Assignment{Segment: "gold", Since: at.Add(-25 * day)})},
			want: at.Add(5 * day)},
		{name: "min_stay and days_in: the sooner", rules: wakeStickyRules,
			c:    in{facts: map[string]any{"spend": 50}, prev: prev(engine.Assignment{Segment: "gold", Since: at.Add(-10 * day)})},
			want: at.Add(10 * day)},
		{name: "downgrade_grace holds until the grace runs out", rules: wakeStickyRules,
			c:    in{facts: map[string]any{"spend": 50}, prev: prev(engine.Assignment{Segment: "silver", Since: at.Add(-300 * day), PendingSince: at.Add(-3 * day)})},
			want: at.Add(7 * day)},
		{name: "a grace period that starts now", rules: wakeStickyRules,
			c:    in{facts: map[string]any{"spend": 50}, prev: prev(engine.Assignment{Segment: "silver", Since: at.Add(-300 * day)})},
			want: at.Add(10 * day)},
		{name: "days_in of the segment reached in another segmentation", rules: wakeStickyRules,
			c:    in{facts: map[string]any{"spend": 200}, prev: prev(engine.Assignment{Segment: "silver", Since: at.Add(-5 * day)})},
			want: at.Add(15 * day)},
		{name: "a cooldown that has not passed", rules: wakeStickyRules,
			c: in{facts: map[string]any{"spend": 50, "flag": 1}, prev: prev(engine.Assignment{Segment: "basic", Since: at.Add(-5 * day)}),
				last: map[string]time.Time{"ping": at.Add(-2 * day)}},
			want: at.Add(5 * day)},
		{name: "an action queued now waits its cooldown, whatever its payload reads", rules: wakeStickyRules,
			c:    in{facts: map[string]any{"spend": 50, "flag": 1}, prev: prev(engine.Assignment{Segment: "basic", Since: at.Add(-30 * day)})},
			want: at.Add(7 * day)},
		{name: "an action without a cooldown fires again on the next run", rules: wakeStickyRules,
			c:    in{facts: map[string]any{"spend": 50, "flag": 2}, prev: prev(engine.Assignment{Segment: "basic", Since: at.Add(-30 * day)})},
			want: at},
		{name: "a suppressed action is tried again on the next run", rules: wakeStickyRules,
			c:        in{facts: map[string]any{"spend": 50, "flag": 1}, prev: prev(engine.Assignment{Segment: "basic", Since: at.Add(-30 * day)})},
			contacts: []engine.Contact{{Action: 1, At: at.Add(-day)}}, want: at},
		{name: "a move that a transition reads is decided again on the next run", rules: wakeStickyRules,
			c: in{facts: map[string]any{"spend": 50, "flag": 3}, prev: map[string]engine.Assignment{
				"tier": {Segment: "basic", Since: at.Add(-30 * day)}, "band": {Segment: "short", Since: at.Add(-30 * day)}}},
			want: at},
		{name: "a move nothing reads back waits for the next threshold", rules: wakeStickyRules,
			c: in{facts: map[string]any{"spend": 200}, prev: map[string]engine.Assignment{
				"tier": {Segment: "basic", Since: at.Add(-30 * day)}, "band": {Segment: "short", Since: at.Add(-30 * day)}}},
			want: at.Add(20 * day)},
		{name: "covered until the outcome is too old", rules: coveredRules,
			c: in{facts: map[string]any{"spend": 200}, prev: vip}, outcomes: []engine.ActionOutcome{{Action: 0, Outcome: "reached", At: at.Add(-10 * day)}},
			want: at.Add(18 * day)},
		{name: "pending until the customer has been in the segment too long", rules: coveredRules,
			c:    in{facts: map[string]any{"spend": 200}, prev: map[string]engine.Assignment{"tier": {Segment: "vip", Since: at.Add(-5 * day)}}},
			want: at.Add(23 * day)},
		{name: "an outcome reported for later counts from then", rules: coveredRules,
			c:        in{facts: map[string]any{"spend": 200}, prev: map[string]engine.Assignment{"tier": {Segment: "vip", Since: at.Add(-5 * day)}}},
			outcomes: []engine.ActionOutcome{{Action: 0, Outcome: "reached", At: at.Add(2 * day)}}, want: at.Add(2 * day)},
		{name: "days_since_covered in a segment without a target", rules: coveredRules,
			c:        in{facts: map[string]any{"spend": 20}, prev: map[string]engine.Assignment{"tier": {Segment: "rest", Since: at.Add(-5 * day)}}},
			outcomes: []engine.ActionOutcome{{Action: 0, Outcome: "reached", At: at.Add(-10 * day)}}, want: time.Time{}},
	})
}

// Map programs (a rule set without slot programs) record nothing, so a
// customer whose conditions read the as-of wakes on every run there;
// without such conditions, the engine's own mechanics still count.
func TestWakeMapPrograms(t *testing.T) {
	t.Parallel()
	timed := compile(t, wakeRules("", "days_since(seen_at) > 90"))
	byRule := *timed
	byRule.Fast = nil
	c := customer(t, timed, "c1", in{facts: map[string]any{"seen_at": retailAsOf.Add(-10 * day)}})
	if w := engine.New(&byRule).Evaluate(retailAsOf, c).Wake; !w.Equal(retailAsOf) {
		t.Errorf("map programs: Wake = %s, want every run", show(w, retailAsOf))
	}
	if w := engine.New(timed).Evaluate(retailAsOf, c).Wake; !w.Equal(retailAsOf.Add(81 * day)) {
		t.Errorf("slot programs: Wake = %s, want 81 days later", show(w, retailAsOf))
	}
	sticky := compile(t, wakeStickyRules)
	plain := *sticky
	plain.Fast = nil
	held := customer(t, sticky, "c2", in{facts: map[string]any{"spend": 50},
		prev: map[string]engine.Assignment{"tier": {Segment: "gold", Since: retailAsOf.Add(-10 * day)}, "band": {Segment: "short", Since: retailAsOf}}})
	// band reads days_in("tier"): the map programs cannot tell when.
	if w := engine.New(&plain).Evaluate(retailAsOf, held).Wake; !w.Equal(retailAsOf) {
		t.Errorf("map programs with days_in: Wake = %s, want every run", show(w, retailAsOf))
	}
}
