package browsertest

import "encoding/json"

// Chart is one chart of a report as the page drew it: what it shows (its
// data-* attributes) and the option ECharts holds, read back from the
// chart instance.
type Chart struct {
	Kind, RuleSet, Segmentation, Scope string
	// XAxis and YAxis are the categories of category axes.
	XAxis, YAxis []string
	Series       []Series
}

// Series is one series of a chart; Data (and, for a Sankey diagram,
// Links) as ECharts holds them.
type Series struct {
	ID, Name, Type string
	Data, Links    json.RawMessage
}

// chartsJS reads every chart back.
const chartsJS = `window.tierflow.charts.map(function (c) {
  var o = c.chart.getOption(), d = c.el.dataset;
  var cats = function (axes) { return axes && axes[0] && axes[0].data ? axes[0].data.map(String) : null; };
  return {Kind: d.chart, RuleSet: d.ruleset || '', Segmentation: d.segmentation || '', Scope: d.scope || '',
    XAxis: cats(o.xAxis), YAxis: cats(o.yAxis),
    Series: o.series.map(function (s) {
      return {ID: String(s.id), Name: s.name || '', Type: s.type, Data: s.data || null, Links: s.links || null};
    })};
})`

// Charts reads back every chart of the page.
func Charts(b *Browser) []Chart {
	b.tb.Helper()
	return Eval[[]Chart](b, chartsJS)
}
