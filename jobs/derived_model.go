package jobs

import (
	"fmt"

	"github.com/tierflow/tierflow/internal/predict"
	"github.com/tierflow/tierflow/rules"
)

// predictUnit is the unit the models are fitted in: weeks, as in Fader,
// Hardie and Lee's paper, so that a run's parameters compare with it.
const predictUnit = predict.Weeks

// predFact is one predicted fact and its place in the schema.
type predFact struct {
	at int
	d  *rules.Derivation
}

// modelState holds a run's BG/NBD (and, for expected_spend, Gamma-Gamma)
// model: the first pass collects every customer's summary, the models
// are fitted, then each customer is scored from its own summary.
type modelState struct {
	facts     []predFact
	spend     bool
	summaries []predict.Summary
	spends    []predict.Spend
	bg        *predict.BGNBD
	gg        *predict.GammaGamma
	reports   []predict.FitReport
}

func newModelState(rs *rules.RuleSet) *modelState {
	m := &modelState{}
	for _, df := range rs.Derived() {
		d := df.Field.Derived
		if d.Kind != rules.DerivedPredicted {
			continue
		}
		m.facts = append(m.facts, predFact{at: df.Index, d: d})
		m.spend = m.spend || d.Func == "expected_spend"
	}
	return m
}

// summaryOf reads a derived row's summary; ok is false for a customer
// with no purchase by the as-of.
func summaryOf(vals []any) (predict.Summary, predict.Spend, bool) {
	if len(vals) < summaryWidth {
		return predict.Summary{}, predict.Spend{}, false
	}
	x, ok := vals[0].(float64)
	if !ok {
		return predict.Summary{}, predict.Spend{}, false
	}
	tx, _ := vals[1].(float64)
	t, _ := vals[2].(float64)
	sx, _ := vals[3].(float64)
	mean, _ := vals[4].(float64)
	return predict.Summary{X: x, Tx: tx, T: t}, predict.Spend{X: sx, Mean: mean}, true
}

// add adds one customer of the first pass.
func (m *modelState) add(vals []any) {
	s, sp, ok := summaryOf(vals)
	if !ok {
		return
	}
	m.summaries = append(m.summaries, s)
	if m.spend {
		m.spends = append(m.spends, sp)
	}
}

// fit fits the models on the first pass's customers. A fit that does not
// converge is an error, with its report kept: no fact is ever given a
// value from a model the data did not fit.
func (m *modelState) fit() error {
	if len(m.summaries) == 0 {
		return fmt.Errorf("no customer of the run has a transaction on or before the as-of: BG/NBD has nothing to fit")
	}
	bg, rep, err := predict.FitBGNBD(m.summaries, predict.FitOptions{})
	m.keep(rep)
	if err != nil {
		return fmt.Errorf("the BG/NBD fit failed: %w", err)
	}
	m.bg, m.summaries = bg, nil
	if !m.spend {
		return nil
	}
	gg, rep, err := predict.FitGammaGamma(m.spends, predict.FitOptions{})
	m.keep(rep)
	if err != nil {
		return fmt.Errorf("the Gamma-Gamma fit failed: %w", err)
	}
	m.gg, m.spends = gg, nil
	return nil
}

func (m *modelState) keep(rep *predict.FitReport) {
	if rep != nil {
		m.reports = append(m.reports, *rep)
	}
}

// fill sets a customer's predicted facts from its summary: null for a
// customer with no purchase by the as-of.
func (m *modelState) fill(facts []any, vals []any) {
	s, sp, ok := summaryOf(vals)
	for _, f := range m.facts {
		if !ok {
			facts[f.at] = nil
			continue
		}
		switch f.d.Func {
		case "p_alive":
			facts[f.at] = m.bg.PAlive(s)
		case "expected_purchases":
			facts[f.at] = m.bg.ExpectedPurchases(s, predictUnit.FromDays(f.d.Horizon.Hours()/24))
		case "expected_spend":
			facts[f.at] = m.gg.ExpectedSpend(sp)
		}
	}
}
