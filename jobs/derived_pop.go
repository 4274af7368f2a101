package jobs

import (
	"time"

	"github.com/tierflow/tierflow/internal/population"
	"github.com/tierflow/tierflow/rules"
)

// popColumn is one population column: the values of one fact over the
// run's customers (for rfm's recency, the days since it).
type popColumn struct {
	fact    string
	at      int // the fact's place in the schema
	recency bool
	typ     rules.Type
	col     *population.Column
}

// popFact is one population fact and the columns it looks up.
type popFact struct {
	at   int
	d    *rules.Derivation
	cols []*popColumn
	cuts population.Cuts
	rfm  *population.RFM
}

// popState holds a run's population columns: filled in the first pass,
// frozen, then looked up for every customer. Lookups are by value, so
// the run's pass needs no more than each customer's own facts.
type popState struct {
	asOf    time.Time
	zone    *time.Location
	columns []*popColumn
	facts   []popFact
}

func newPopState(rs *rules.RuleSet, asOf time.Time) *popState {
	p := &popState{asOf: asOf, zone: rs.Zone()}
	byKey := map[string]*popColumn{}
	rfms := map[string]*population.RFM{}
	for _, df := range rs.Derived() {
		d := df.Field.Derived
		if d.Kind != rules.DerivedPopulation {
			continue
		}
		pf := popFact{at: df.Index, d: d}
		for i, in := range d.Inputs {
			recency := d.Func == "rfm" && i == 0
			pf.cols = append(pf.cols, p.column(rs, byKey, in, recency))
		}
		if d.Func == "abc" {
			pf.cuts, _ = population.NewCuts(d.Cuts...) // rules checked them
		}
		if d.Func == "rfm" {
			if rfms[d.Group] == nil {
				rfms[d.Group], _ = population.NewRFM(pf.cols[0].col, pf.cols[1].col, pf.cols[2].col, d.Bins)
			}
			pf.rfm = rfms[d.Group]
		}
		p.facts = append(p.facts, pf)
	}
	return p
}

// column returns the column of fact (as recency days, or as it is),
// making it the first time.
func (p *popState) column(rs *rules.RuleSet, byKey map[string]*popColumn, fact string, recency bool) *popColumn {
	key := fact
	if recency {
		key = "recency:" + fact
	}
	if c := byKey[key]; c != nil {
		return c
	}
	f, at, _ := rs.Facts.Lookup(fact)
	name := fact
	if recency && (f.Type == rules.TypeTime || f.Type == rules.TypeDate) {
		name = "days since " + fact
	}
	c := &popColumn{fact: name, at: at, recency: recency, typ: f.Type, col: population.NewColumn(name, population.Options{})}
	byKey[key] = c
	p.columns = append(p.columns, c)
	return c
}

// value reads a column's value from a customer's facts.
func (p *popState) value(c *popColumn, facts []any) (float64, bool) {
	switch v := facts[c.at].(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case time.Time:
		if c.typ == rules.TypeDate {
			return rules.DateIn(p.asOf, p.zone).Sub(v).Hours() / 24, true
		}
		return p.asOf.Sub(v).Hours() / 24, true
	}
	return 0, false
}

// add adds one customer of the first pass.
func (p *popState) add(facts []any) error {
	for _, c := range p.columns {
		v, ok := p.value(c, facts)
		if err := c.col.Add(v, ok); err != nil {
			return err
		}
	}
	return nil
}

func (p *popState) freeze() error {
	for _, c := range p.columns {
		if err := c.col.Freeze(); err != nil {
			return err
		}
	}
	return nil
}

// fill sets a customer's population facts from its other facts.
func (p *popState) fill(facts []any) {
	for i := range p.facts {
		f := &p.facts[i]
		if f.d.Func == "rfm" {
			facts[f.at] = p.rfmValue(f, facts)
			continue
		}
		v, ok := p.value(f.cols[0], facts)
		if !ok {
			facts[f.at] = nil
			continue
		}
		switch f.d.Func {
		case "pct_rank":
			facts[f.at] = f.cols[0].col.PercentRank(v)
		case "cume_dist":
			facts[f.at] = f.cols[0].col.CumeDist(v)
		case "ntile":
			facts[f.at] = f.cols[0].col.Ntile(v, f.d.Bins)
		case "abc":
			facts[f.at] = f.cols[0].col.ABC(v, f.cuts)
		}
	}
}

// rfmValue is one part of an rfm declaration: a score from 1 to the
// bins, 0 when the customer has no value for its fact; or the code,
// "" when any score is 0.
func (p *popState) rfmValue(f *popFact, facts []any) any {
	var s population.Scores
	if v, ok := p.value(f.cols[0], facts); ok {
		s.R = f.rfm.R(v)
	}
	if v, ok := p.value(f.cols[1], facts); ok {
		s.F = f.rfm.F(v)
	}
	if v, ok := p.value(f.cols[2], facts); ok {
		s.M = f.rfm.M(v)
	}
	switch f.d.Part {
	case rules.RFMRecency:
		return s.R
	case rules.RFMFrequency:
		return s.F
	case rules.RFMMonetary:
		return s.M
	}
	return s.Code()
}

// report describes the frozen columns.
func (p *popState) report() []PopulationReport {
	out := make([]PopulationReport, 0, len(p.columns))
	for _, c := range p.columns {
		st := c.col.Stats()
		out = append(out, PopulationReport{Fact: c.fact, Values: st.N, Missing: st.Missing, Exact: st.Exact, RankErrorBound: st.RankErrorBound})
	}
	return out
}
