package report_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tierflow/tierflow/examples"
	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/rules"
)

// retailRuleSet compiles the retail example, whose segmentations and
// actions synthetic reports use.
func retailRuleSet(tb testing.TB) *rules.RuleSet {
	tb.Helper()
	loaded := rules.Load(examples.Retail, []string{"retail/retail.yaml"}, rules.Options{})
	if err := loaded.Err(); err != nil {
		tb.Fatal(err)
	}
	return loaded.RuleSets[0]
}

// synth makes a class report of nights nightly applies of rs over a
// population of customers, with counts a Markov chain of moves gives:
// realistic in shape (sizes drift, a few per cent move each night, churn
// grows with rank), not in any customer's story.
type synth struct {
	rs     *rules.RuleSet
	rng    *rand.Rand
	start  time.Time
	rep    *jobs.ClassReport
	sizes  [][]int // per segmentation, per segment
	period map[string]*jobs.MoveCell
}

func synthReport(tb testing.TB, nights, customers int) *jobs.ClassReport {
	tb.Helper()
	s := &synth{rs: retailRuleSet(tb), rng: rand.New(rand.NewPCG(7, 42)), start: time.Date(2024, 1, 1, 2, 0, 0, 0, time.UTC),
		period: map[string]*jobs.MoveCell{}}
	s.rep = &jobs.ClassReport{FormatVersion: jobs.ClassReportFormatVersion, RuleSet: s.rs.Name, Label: s.rs.Label,
		From: s.start, Until: s.start.AddDate(0, 0, nights)}
	for _, sg := range s.rs.Segmentations {
		rs := jobs.ReportSegmentation{Name: sg.Name, Label: sg.Label}
		n := make([]int, len(sg.Segments))
		for k, seg := range sg.Segments {
			rs.Segments = append(rs.Segments, jobs.ReportSegment{Name: seg.Name, Label: seg.Label, Rank: seg.Rank})
			n[k] = customers / len(sg.Segments)
		}
		s.rep.Segmentations = append(s.rep.Segmentations, rs)
		s.sizes = append(s.sizes, n)
	}
	var atStart [][]int
	churned := map[string]int{}
	for night := 0; night < nights; night++ {
		asOf := s.start.AddDate(0, 0, night)
		if night%30 == 0 {
			if night > 0 {
				s.churnPeriod(asOf.AddDate(0, 0, -30), asOf, atStart, churned)
			}
			atStart, churned = s.copySizes(), map[string]int{}
		}
		s.night(int64(night+1), asOf, churned)
	}
	s.coverageAndActions()
	for _, c := range s.period {
		s.rep.Moves = append(s.rep.Moves, *c)
	}
	s.rep.Effects = s.effects()
	return s.rep
}

func (s *synth) copySizes() [][]int {
	out := make([][]int, len(s.sizes))
	for i, n := range s.sizes {
		out[i] = append([]int(nil), n...)
	}
	return out
}

// night is one run: a few blocked or failed, the rest succeed and move
// customers.
func (s *synth) night(id int64, asOf time.Time, churned map[string]int) {
	run := jobs.ReportRun{ID: id, Kind: "apply", AsOf: asOf, Status: jobs.StatusSucceeded, Started: asOf.Add(time.Minute),
		Seconds: 40 + 20*s.rng.Float64()}
	switch {
	case id%97 == 0:
		run.Status, run.GuardReasons = jobs.StatusBlocked, []string{"value_tier.vip would shrink by 31% (max_shrink 20%)"}
		s.rep.Runs = append(s.rep.Runs, run)
		return
	case id%151 == 0:
		run.Status, run.Error = jobs.StatusFailed, "read facts: connection reset by peer"
		s.rep.Runs = append(s.rep.Runs, run)
		return
	}
	if id%11 == 0 {
		run.ErrorsByRule = map[string]int{"segmentations.lifecycle.segments.at_risk.when": 1 + int(id%5)}
		if id%22 == 0 {
			run.ErrorsByRule["actions.winback_call.payload.reason"] = 2
		}
		for _, n := range run.ErrorsByRule {
			run.Errors += int64(n)
		}
	}
	var latest []jobs.MoveCell
	for i, sg := range s.rs.Segmentations {
		latest = append(latest, s.move(i, sg, id, churned)...)
		for k, seg := range sg.Segments {
			s.rep.Sizes = append(s.rep.Sizes, jobs.SizePoint{RunID: id, AsOf: asOf, Segmentation: sg.Name, Segment: seg.Name, Customers: s.sizes[i][k]})
			run.Customers += int64(s.sizes[i][k])
		}
	}
	run.Customers /= int64(len(s.rs.Segmentations))
	for _, c := range latest {
		run.Changed += int64(c.Count)
	}
	s.rep.Runs = append(s.rep.Runs, run)
	s.rep.Moves = slicesDeleteScope(s.rep.Moves, "latest")
	s.rep.Moves = append(s.rep.Moves, latest...)
}

func slicesDeleteScope(cells []jobs.MoveCell, scope string) []jobs.MoveCell {
	out := cells[:0]
	for _, c := range cells {
		if c.Scope != scope {
			out = append(out, c)
		}
	}
	return out
}

// move moves about 1.5% of each segment to a neighbour, and a few
// customers in and out.
func (s *synth) move(i int, sg *rules.Segmentation, run int64, churned map[string]int) []jobs.MoveCell {
	var cells []jobs.MoveCell
	n := s.sizes[i]
	add := func(from, to string, k int) {
		if k <= 0 {
			return
		}
		dir := "in"
		switch {
		case from != "" && to == "":
			dir = "out"
		case from != "" && to != "":
			dir = "down"
			if sg.Segments[s.index(sg, to)].Rank < sg.Segments[s.index(sg, from)].Rank {
				dir = "up"
			}
		}
		cells = append(cells, jobs.MoveCell{Scope: "latest", RunID: run, Segmentation: sg.Name, From: from, To: to, Count: k, Direction: dir})
		key := sg.Name + "/" + from + "/" + to
		if p := s.period[key]; p != nil {
			p.Count += k
		} else {
			s.period[key] = &jobs.MoveCell{Scope: "period", Segmentation: sg.Name, From: from, To: to, Count: k, Direction: dir}
		}
	}
	for k := range n {
		for _, d := range []int{-1, 1, 2} {
			j := k + d
			if j < 0 || j >= len(n) {
				continue
			}
			if sg.Name == "lifecycle" && j == 0 {
				continue // churn, below
			}
			m := int(math.Round(float64(n[k]) * (0.004 + 0.008*s.rng.Float64())))
			n[k] -= m
			n[j] += m
			add(sg.Segments[k].Name, sg.Segments[j].Name, m)
		}
		if sg.Name == "lifecycle" && k > 0 {
			m := int(math.Round(float64(n[k]) * 0.002 * float64(k) * s.rng.Float64()))
			churned[sg.Name+"/"+sg.Segments[k].Name] += m
			n[k] -= m
			n[0] += m
			add(sg.Segments[k].Name, sg.Segments[0].Name, m)
		}
	}
	last := len(n) - 1
	in := 5 + s.rng.IntN(30)
	n[last] += in
	add("", sg.Segments[last].Name, in)
	return cells
}

func (s *synth) index(sg *rules.Segmentation, name string) int {
	for k, seg := range sg.Segments {
		if seg.Name == name {
			return k
		}
	}
	panic(name)
}

// churnPeriod records the lifecycle segments' churn of one period.
func (s *synth) churnPeriod(from, until time.Time, atStart [][]int, churned map[string]int) {
	if s.rep.Churn == nil {
		s.rep.Churn = &jobs.ChurnReport{Segmentation: "lifecycle", Segment: "churned",
			Definition: "the customers of a class who entered lifecycle.churned during the period, over the customers in the class at its start"}
	}
	for i, sg := range s.rs.Segmentations {
		for k, seg := range sg.Segments {
			r := jobs.ChurnRate{PeriodStart: from, PeriodEnd: until, Segmentation: sg.Name, Segment: seg.Name, AtStart: atStart[i][k]}
			if sg.Name == "lifecycle" {
				r.Churned = churned[sg.Name+"/"+seg.Name]
			} else {
				r.Churned = int(float64(r.AtStart) * 0.004 * float64(k+1) * (0.5 + s.rng.Float64()))
			}
			if r.AtStart > 0 {
				r.Rate = float64(r.Churned) / float64(r.AtStart)
			}
			s.rep.Churn.Rates = append(s.rep.Churn.Rates, r)
		}
	}
}

// coverageAndActions adds two coverage targets after every succeeded run
// and the period's actions by status and class.
func (s *synth) coverageAndActions() {
	for _, run := range s.rep.Runs {
		if run.Status != jobs.StatusSucceeded {
			continue
		}
		for k, seg := range []string{"vip", "key"} {
			due := 400 * (k + 1)
			covered := int(float64(due) * (0.55 + 0.2*math.Sin(float64(run.ID)/20) + 0.05*s.rng.Float64()))
			pending := due / 20
			s.rep.Coverage = append(s.rep.Coverage, jobs.CoveragePoint{RunID: run.ID, AsOf: run.AsOf, CoverageReport: jobs.CoverageReport{
				Segmentation: "value_tier", Segment: seg, EveryDays: 28 + 62*k, By: []string{"account_review", "winback_call"},
				Counts: []string{"reached", "converted"}, Due: due, Covered: covered, Pending: pending, Overdue: due - covered - pending,
				Share: float64(covered) / float64(due)}})
		}
	}
	statuses := []string{jobs.ActionPending, jobs.ActionDone, jobs.ActionFailed, jobs.ActionDead, jobs.ActionSuppressed, jobs.ActionHeldOut, jobs.ActionCancelled}
	for a, act := range s.rs.Actions {
		for _, sg := range s.rs.Segmentations {
			for k, seg := range sg.Segments {
				for si, st := range statuses {
					n := int64(s.rng.IntN(4000/(si+1)/(k+1)/(a+1) + 1))
					if n == 0 {
						continue
					}
					s.rep.Actions = append(s.rep.Actions, jobs.ActionClassCount{Action: act.Name, Segmentation: sg.Name, Segment: seg.Name, Status: st, Count: n})
				}
			}
		}
	}
}

// effects compares winback_call's treated and held-out customers.
func (s *synth) effects() *jobs.EffectsReport {
	ef := &jobs.EffectsReport{RuleSet: s.rs.Name, From: s.rep.From, Until: s.rep.Until, Latest: s.rep.Until, Churn: "lifecycle.churned",
		Method: "Newcombe hybrid score (Wilson)", Horizons: []int{30, 60, 90}, MinGroup: 30}
	for _, h := range ef.Horizons {
		for _, seg := range []string{"vip", "key", "regular"} {
			t, c := 300+s.rng.IntN(300), 30+s.rng.IntN(40)
			tr, ho := 0.05+0.001*float64(h), 0.12+0.002*float64(h)
			ef.Effects = append(ef.Effects, jobs.TreatmentEffect{Action: "winback_call", Segmentation: "value_tier", Segment: seg, Horizon: h,
				Treated: t, HeldOut: c, Conclusive: c >= 30,
				Churned: jobs.Comparison{TreatedCount: int(tr * float64(t)), HeldOutCount: int(ho * float64(c)), Treated: tr, HeldOut: ho,
					Diff: tr - ho, Low: tr - ho - 0.08, High: tr - ho + 0.03}})
		}
	}
	return ef
}

func TestSynthReport(t *testing.T) {
	rep := synthReport(t, 40, 20000)
	if len(rep.Runs) != 40 || len(rep.Sizes) == 0 || rep.Churn == nil || len(rep.Churn.Rates) == 0 {
		t.Fatalf("synthetic report: %d runs, %d sizes, churn %v", len(rep.Runs), len(rep.Sizes), rep.Churn)
	}
	for _, p := range rep.Sizes {
		if p.Customers < 0 {
			t.Fatalf("negative size: %+v", p)
		}
	}
}
