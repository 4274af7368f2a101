package jobs_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/engine"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/memstore"
	"github.com/tierflow/tierflow/rules"
)

// spendFacts is a facts source of one fact, spend, by customer key.
type spendFacts map[string]float64

func (f spendFacts) OpenFacts(context.Context, *rules.RuleSet) (jobs.FactsReader, error) {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rows := make([]engine.Customer, len(keys))
	for i, k := range keys {
		rows[i] = engine.Customer{Key: k, Facts: []any{f[k]}}
	}
	return &spendReader{rows}, nil
}

type spendReader struct{ rows []engine.Customer }

func (r *spendReader) Count(context.Context) (int64, error) { return int64(len(r.rows)), nil }
func (r *spendReader) Close() error                         { return nil }
func (r *spendReader) Stream(_ context.Context, _ int, fn func([]engine.Customer) error) error {
	return fn(r.rows)
}

// explainRules: a VIP tier with a grace, a welcome with a cooldown.
const explainRules = `
ruleset: shop
facts: {spend: number}
segmentations:
  - name: tier
    segments:
      - {name: vip, when: spend >= 100, downgrade_grace: 10d}
      - {name: regular, fallback: true}
actions:
  - name: welcome_vip
    when: entered("tier", "vip")
    cooldown: 30d
`

// shopRuns is the story the tests explain, run by run (day n is July
// 1st + n), as each customer's spend goes:
//
//	run 1, day 0:  a 50, b 150, d 50, e 150, f 150 (the first run: no actions)
//	run 2, day 1:  a 150 (becomes VIP, welcomed), b 50 (its grace starts)
//	run 3, day 5:  a 50 (its grace starts)
//	run 4, day 15: a's and b's graces have run out: both move down; f 50 (its grace starts)
//	run 5, day 20: a 150 (VIP again; the welcome is in its cooldown)
type shopRuns struct {
	store *memstore.Store
	facts spendFacts
	rs    *rules.RuleSet
	runs  []jobs.RunRef
}

func newShopRuns(t *testing.T) *shopRuns {
	t.Helper()
	s := &shopRuns{store: memstore.New(), facts: spendFacts{"a": 50, "b": 150, "d": 50, "e": 150, "f": 150}, rs: compile(t, explainRules)}
	for _, step := range []struct {
		day    int
		change spendFacts
	}{{0, nil}, {1, spendFacts{"a": 150, "b": 50}}, {5, spendFacts{"a": 50}}, {15, spendFacts{"f": 50}}, {20, spendFacts{"a": 150}}} {
		for k, v := range step.change {
			s.facts[k] = v
		}
		at := time.Date(2024, 7, 1+step.day, 0, 0, 0, 0, time.UTC)
		out, err := jobs.Apply(context.Background(), s.store, s.facts, s.rs, jobs.Options{AsOf: at, Guard: jobs.Guard{AllowLarge: true}})
		if err != nil {
			t.Fatal(err)
		}
		s.runs = append(s.runs, jobs.RunRef{ID: out.RunID, RuleSet: "shop", RulesHash: s.rs.Hash, AsOf: at, Status: jobs.StatusSucceeded,
			Initial: out.Report.Initial, Actions: int64(out.Report.ActionsTotal)})
	}
	return s
}

// explain explains run n (1-based) for customer key, with today's facts.
func (s *shopRuns) explain(t *testing.T, n int, key string) *jobs.RunExplanation {
	t.Helper()
	ctx := context.Background()
	rec, err := jobs.ReadCustomerRecord(ctx, s.store, "shop", key)
	if err != nil {
		t.Fatal(err)
	}
	x, err := jobs.ExplainRun(ctx, rec, s.facts, s.rs, s.runs[n-1], key)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func moves(o jobs.RunOutcome) string {
	var out []string
	for _, m := range o.Moves {
		out = append(out, m.Segmentation+":"+m.From+">"+m.To)
	}
	for _, a := range o.Actions {
		out = append(out, a.Action+":"+a.Disposition())
	}
	return strings.Join(out, " ")
}

func TestExplainRun(t *testing.T) {
	t.Parallel()
	s := newShopRuns(t)
	for _, c := range []struct {
		name          string
		run           int
		key           string
		recorded      string
		evaluated     string
		verdict       jobs.Verdict
		previous      engine.Assignment
		notes         string // a part of a note
		welcomeFired  bool   // the trace shows the welcome fired
		welcomeReason string // else its outcome
	}{
		{name: "a move and its welcome, as the run recorded them", run: 2, key: "a", recorded: "tier:regular>vip welcome_vip:queued",
			evaluated: "tier:regular>vip welcome_vip:queued", verdict: jobs.VerdictAgrees,
			previous: engine.Assignment{Segment: "regular", Since: day(0)}, welcomeFired: true},
		{name: "a customer the run did not touch", run: 2, key: "d", verdict: jobs.VerdictAgrees,
			previous: engine.Assignment{Segment: "regular", Since: day(0)}, welcomeReason: "false"},
		{name: "a grace that began with the run, written by it", run: 4, key: "f", verdict: jobs.VerdictAgrees,
			previous: engine.Assignment{Segment: "vip", Since: day(0)}, welcomeReason: "false"},
		{name: "the first run queues no actions", run: 1, key: "e", recorded: "tier:>vip", evaluated: "tier:>vip", verdict: jobs.VerdictAgrees,
			notes: "first run, which queues no actions", welcomeFired: true},
		{name: "a move down when the grace ran out: its start is inferred", run: 4, key: "b", recorded: "tier:vip>regular",
			evaluated: "tier:vip>regular", verdict: jobs.VerdictAgrees,
			previous: engine.Assignment{Segment: "vip", Since: day(0), PendingSince: day(5)}, notes: "tier before run 4: when the downgrade grace in vip began is not kept; taken as 2024-07-06, the latest that lets the run's recorded move",
			welcomeReason: "false"},
		{name: "a grace a later run ended is not kept", run: 3, key: "b", verdict: jobs.VerdictAgrees,
			previous: engine.Assignment{Segment: "vip", Since: day(0)}, notes: "tier before run 3: whether a downgrade grace in vip was pending is not kept", welcomeReason: "false"},
		{name: "a cooldown from the queue of earlier runs", run: 5, key: "a", recorded: "tier:regular>vip", evaluated: "tier:regular>vip",
			verdict: jobs.VerdictAgrees, previous: engine.Assignment{Segment: "regular", Since: day(15)}, welcomeReason: "cooldown"},
		{name: "the facts changed since the run", run: 4, key: "a", recorded: "tier:vip>regular", verdict: jobs.VerdictDiffers,
			previous: engine.Assignment{Segment: "vip", Since: day(1), PendingSince: day(5)}, notes: "taken as 2024-07-06", welcomeReason: "false"},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := s.explain(t, c.run, c.key)
			if got := moves(x.Recorded); got != c.recorded {
				t.Errorf("recorded %q, want %q", got, c.recorded)
			}
			if got := moves(x.Evaluated); got != c.evaluated {
				t.Errorf("evaluated %q, want %q", got, c.evaluated)
			}
			if x.Verdict != c.verdict || x.RulesChanged || x.Customer != c.key || x.Run.ID != s.runs[c.run-1].ID {
				t.Errorf("verdict %s, rules changed %v, customer %s, run %d; want %s, unchanged rules, %s, run %d",
					x.Verdict, x.RulesChanged, x.Customer, x.Run.ID, c.verdict, c.key, s.runs[c.run-1].ID)
			}
			if got := x.Trace.Segmentations[0].Previous; got != c.previous {
				t.Errorf("the state before run %d: %+v, want %+v", c.run, got, c.previous)
			}
			if notes := strings.Join(x.Notes, "\n"); c.notes == "" && notes != "" || !strings.Contains(notes, c.notes) {
				t.Errorf("notes %q, want %q", notes, c.notes)
			}
			if at := x.Trace.Actions[0]; c.welcomeFired != (at.Outcome == engine.OutcomeFired) || !c.welcomeFired && string(at.Outcome) != c.welcomeReason {
				t.Errorf("welcome_vip in the trace: %s (%s)", at.Outcome, at.Why)
			}
		})
	}
}

func day(n int) time.Time { return time.Date(2024, 7, 1+n, 0, 0, 0, 0, time.UTC) }

// With the facts back as run 2 read them, its evaluation agrees with its
// record again; with other rules it says the rules changed.
func TestExplainRunFactsAndRules(t *testing.T) {
	t.Parallel()
	s := newShopRuns(t)
	s.facts["a"] = 50
	if x := s.explain(t, 2, "a"); x.Verdict != jobs.VerdictDiffers || moves(x.Evaluated) != "" {
		t.Fatalf("with a's spend at 50, run 2: %s, evaluated %q; want it to differ, with no move", x.Verdict, moves(x.Evaluated))
	}
	s.facts["a"] = 150
	if x := s.explain(t, 2, "a"); x.Verdict != jobs.VerdictAgrees {
		t.Fatalf("with a's spend as run 2 read it: %s", x.Verdict)
	}
	s.rs = compile(t, strings.Replace(explainRules, "spend >= 100", "spend >= 200", 1))
	x := s.explain(t, 2, "a")
	if !x.RulesChanged || x.RulesHash == s.runs[1].RulesHash || x.Verdict != jobs.VerdictDiffers {
		t.Fatalf("with a higher threshold: rules changed %v, verdict %s; want changed rules and a different outcome", x.RulesChanged, x.Verdict)
	}
}

func TestExplainRunErrors(t *testing.T) {
	t.Parallel()
	s := newShopRuns(t)
	ctx := context.Background()
	rec := &jobs.CustomerRecord{}
	other := s.runs[1]
	other.RuleSet = "b2b"
	blocked := s.runs[1]
	blocked.Status = jobs.StatusBlocked
	for _, c := range []struct {
		run  jobs.RunRef
		key  string
		want string
	}{
		{other, "a", "run 2 is of rule set b2b, not shop"},
		{blocked, "a", "run 2 of shop was blocked: it wrote no move and queued no action to explain"},
		{s.runs[1], "zz", `run 2 is re-evaluated with today's facts: no customer "zz" in the facts source of shop`},
	} {
		if _, err := jobs.ExplainRun(ctx, rec, s.facts, s.rs, c.run, c.key); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want it to say %q", err, c.want)
		}
	}
	if _, err := jobs.ReadCustomerRecord(ctx, jobs.NoState{}, "shop", "a"); err == nil || !strings.Contains(err.Error(), "cannot read a customer's record") {
		t.Errorf("a store without records: %v", err)
	}
}

func TestSelectRun(t *testing.T) {
	t.Parallel()
	ref := func(id int64, d int, status jobs.Status) jobs.RunRef {
		return jobs.RunRef{ID: id, RuleSet: "shop", AsOf: day(d), Status: status}
	}
	runs := []jobs.RunRef{ref(1, 0, jobs.StatusSucceeded), ref(2, 10, jobs.StatusSucceeded), ref(3, 10, jobs.StatusSucceeded),
		ref(4, 20, jobs.StatusBlocked), ref(5, 30, jobs.StatusSucceeded), {ID: 6, RuleSet: "b2b", AsOf: day(20), Status: jobs.StatusSucceeded}}
	touched := &jobs.CustomerRecord{Moves: []jobs.RecordedMove{{RunID: 2}}}
	for _, c := range []struct {
		at   int
		rec  *jobs.CustomerRecord
		want int64
		err  string
	}{
		{at: 0, rec: touched, want: 1},
		{at: 10, rec: touched, want: 2},                // the run that moved the customer
		{at: 10, rec: &jobs.CustomerRecord{}, want: 3}, // else the latest
		{at: 20, rec: touched, err: "no succeeded apply of shop is as of 2024-07-21; the nearest: run 3 as of 2024-07-11 and run 5 as of 2024-07-31"},
		{at: 40, rec: touched, err: "the nearest: run 5 as of 2024-07-31 ("},
	} {
		got, err := jobs.SelectRun("shop", runs, day(c.at), c.rec)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("as of day %d: run %d, error %v; want the error to say %q", c.at, got.ID, err, c.err)
			}
			continue
		}
		if err != nil || got.ID != c.want {
			t.Errorf("as of day %d: run %d, %v; want run %d", c.at, got.ID, err, c.want)
		}
	}
	if _, err := jobs.SelectRun("shop", runs[3:4], day(20), touched); err == nil || !strings.Contains(err.Error(), "shop has no succeeded apply yet") {
		t.Errorf("no succeeded run: %v", err)
	}
}
