// The class sections of a rule set: sizes over runs, moves, churn.

// anchor is the id of a rule set's section.
function anchor(rep, what) { return 'rs-' + rep.ruleset + '-' + what; }

// meta says what a chart shows, for data-* attributes and tests.
function meta(rep, kind, segmentation, scope) {
  return {kind: kind, ruleset: rep.ruleset, segmentation: segmentation, scope: scope};
}

// sizeRuns are the runs that have class sizes, oldest first, with their
// as-of dates.
function sizeRuns(rep) {
  var ids = uniq(rep.sizes || [], 'run_id'), asOf = {};
  (rep.sizes || []).forEach(function (p) { asOf[p.run_id] = p.as_of; });
  return {ids: ids, labels: ids.map(function (id) { return day(asOf[id]); }), asOf: asOf};
}

function sizesSection(m) {
  var rep = m.rep;
  var sec = section(anchor(rep, 'sizes'), 'Class sizes',
    'Customers in each segment after every succeeded apply of the period, stacked; hover for the figures, click a legend entry to hide a segment.');
  var runs = sizeRuns(rep);
  if (runs.ids.length === 0) {
    sec.appendChild(empty('No succeeded apply in the period, so no class sizes.'));
    return sec;
  }
  var index = {};
  runs.ids.forEach(function (id, i) { index[id] = i; });
  var grid = el('div', {class: 'grid'});
  var latest = [];
  m.segmentations.forEach(function (s) {
    var pts = rep.sizes.filter(function (p) { return p.segmentation === s.name; });
    var names = m.segmentNames(s.name, uniq(pts, 'segment'));
    var series = names.map(function (g) {
      var data = runs.ids.map(function () { return 0; });
      pts.forEach(function (p) { if (p.segment === g) data[index[p.run_id]] = p.customers; });
      return {id: g, name: m.segmentLabel(s.name, g), type: 'line', stack: 'customers', areaStyle: {opacity: 0.8},
        symbol: runs.ids.length < 3 ? 'circle' : 'none', lineStyle: {width: 1}, emphasis: {focus: 'series'}, data: data};
    });
    var total = series.reduce(function (n, x) { return n + x.data[x.data.length - 1]; }, 0);
    series.forEach(function (x) {
      var d = x.data, n = d.length;
      latest.push({segmentation: s.name, segment: x.id, customers: d[n - 1], share: total ? d[n - 1] / total : 0,
        prev: n > 1 ? d[n - 1] - d[n - 2] : null, start: n > 1 ? d[n - 1] - d[0] : null});
    });
    grid.appendChild(el('div', {}, [el('h4', {}, [m.segmentationLabel(s.name)]), chart(meta(rep, 'sizes', s.name), {
      tooltip: {trigger: 'axis'},
      legend: {type: 'scroll', top: 0},
      grid: {left: 8, right: 36, top: 36, bottom: 8, containLabel: true},
      xAxis: Object.assign(runAxis(runs.ids.map(String), runs.labels), {boundaryGap: false}),
      yAxis: {type: 'value', axisLabel: {formatter: int}},
      series: series
    })]));
  });
  sec.appendChild(grid);
  var last = runs.ids[runs.ids.length - 1];
  var change = function (v) { return v === null ? '-' : (v > 0 ? '+' : '') + int(v); };
  sec.appendChild(table('Latest counts: after run ' + last + ', as of ' + runs.labels[runs.labels.length - 1], [
    {text: 'segmentation', cell: function (r) { return m.segmentationLabel(r.segmentation); }},
    {text: 'segment', cell: function (r) { return m.segmentLabel(r.segmentation, r.segment) + (r.segment !== m.segmentLabel(r.segmentation, r.segment) ? ' (' + r.segment + ')' : ''); }},
    {text: 'customers', num: true, cell: function (r) { return int(r.customers); }},
    {text: 'share', num: true, cell: function (r) { return pct(r.share); }},
    {text: 'since the run before', num: true, cell: function (r) { return change(r.prev); }},
    {text: 'since the period began', num: true, cell: function (r) { return change(r.start); }}
  ], latest, csvButton(rep, 'sizes', 'sizes after every run')));
  return sec;
}

// matrixCategories are the segments one side (from or to) of a move
// matrix shows: every segment in rank order, and (none) first when
// customers entered (from) or left (to).
function matrixCategories(m, segmentation, cells, side) {
  var used = uniq(cells, side);
  var names = m.segmentNames(segmentation, uniq(cells, 'from').concat(uniq(cells, 'to')).filter(function (n) { return n; }));
  return used.indexOf('') >= 0 ? ['(none)'].concat(names) : names;
}

// moveCells are one segmentation's cells of one scope.
function moveCells(rep, segmentation, scope) {
  return (rep.moves || []).filter(function (c) { return c.segmentation === segmentation && c.scope === scope; });
}

function heatmap(m, segmentation, scope, cells) {
  var from = matrixCategories(m, segmentation, cells, 'from'), to = matrixCategories(m, segmentation, cells, 'to');
  var pos = function (cats, n) { return cats.indexOf(n || '(none)'); };
  // Each direction has its own scale, so that a few upgrades show next
  // to the many customers a first run brings in.
  var max = {};
  cells.forEach(function (c) { max[c.direction] = Math.max(max[c.direction] || 1, c.count); });
  var label = function (n) { return n === '(none)' ? n : m.segmentLabel(segmentation, n); };
  return chart(meta(m.rep, 'moves', segmentation, scope), {
    tooltip: {formatter: function (p) {
      var c = p.data.cell;
      return label(c.from || '(none)') + ' → ' + label(c.to || '(none)') + '<br>' + int(c.count) + ' customers, ' + DIRECTION_TEXT[c.direction];
    }},
    grid: {left: 8, right: 16, top: 34, bottom: 8, containLabel: true},
    xAxis: {type: 'category', data: to, name: 'to', position: 'top', splitArea: {show: true}, axisLabel: {formatter: label, interval: 0, rotate: to.length > 5 ? 30 : 0}},
    yAxis: {type: 'category', data: from, name: 'from', inverse: true, splitArea: {show: true}, axisLabel: {formatter: label, interval: 0}},
    series: [{type: 'heatmap', label: {show: true, formatter: function (p) { return int(p.value[2]); }},
      data: cells.map(function (c) {
        var share = c.count / max[c.direction];
        return {value: [pos(to, c.to), pos(from, c.from), c.count], cell: c,
          itemStyle: {color: shade(c.direction, share)}, label: {color: share > 0.55 ? '#fff' : '#1f2933'}};
      })}]
  });
}

// sankeyOption is the flow of one segmentation's moves of one scope: the
// segments before on the left, after on the right.
function sankeyOption(m, segmentation, cells) {
  var label = function (name) {
    var n = name.slice(name.indexOf(':') + 1);
    return n === '(none)' ? n : m.segmentLabel(segmentation, n);
  };
  var nodes = [];
  var all = m.segmentNames(segmentation);
  ['from', 'to'].forEach(function (side) {
    matrixCategories(m, segmentation, cells, side).forEach(function (n) {
      var used = cells.some(function (c) { return (c[side] || '(none)') === n; });
      var i = all.indexOf(n);
      if (used) {
        nodes.push({name: side + ':' + n, itemStyle: {color: i < 0 ? '#9aa5b1' : PALETTE[i % PALETTE.length]},
          label: {position: side === 'from' ? 'left' : 'right'}});
      }
    });
  });
  return {
    tooltip: {formatter: function (p) {
      if (p.dataType === 'edge') return label(p.data.source) + ' → ' + label(p.data.target) + ': ' + int(p.data.value) + ' (' + DIRECTION_TEXT[p.data.direction] + ')';
      return label(p.name) + ': ' + int(p.value);
    }},
    series: [{type: 'sankey', layoutIterations: 0, nodeAlign: 'justify', left: 130, right: 130, top: 10, bottom: 10,
      emphasis: {focus: 'adjacency'}, label: {formatter: function (p) { return label(p.name); }},
      data: nodes,
      links: cells.map(function (c) {
        return {source: 'from:' + (c.from || '(none)'), target: 'to:' + (c.to || '(none)'), value: c.count, direction: c.direction,
          lineStyle: {color: DIRECTION_COLOR[c.direction], opacity: c.direction === 'up' || c.direction === 'down' ? 0.55 : 0.3}};
      })}]
  };
}

// sankey draws a segmentation's flow, with buttons that switch between
// the period and the latest run, and a box that leaves out customers
// entering or leaving the segmentation (a first run brings everyone in,
// which can dwarf the moves between segments).
function sankey(m, segmentation) {
  var scopes = {period: moveCells(m.rep, segmentation, 'period'), latest: moveCells(m.rep, segmentation, 'latest')};
  var state = {scope: 'period', inOut: true};
  var cells = function () {
    return scopes[state.scope].filter(function (c) { return state.inOut || (c.direction !== 'in' && c.direction !== 'out'); });
  };
  var div = chart(meta(m.rep, 'sankey', segmentation, 'period'), sankeyOption(m, segmentation, cells()), 'tall');
  var buttons = {};
  var show = function () {
    var c = CHARTS.filter(function (x) { return x.el === div; })[0];
    div.setAttribute('data-scope', state.scope);
    div.setAttribute('data-in-out', String(state.inOut));
    c.chart.setOption(withDefaults(sankeyOption(m, segmentation, cells())), true);
    Object.keys(buttons).forEach(function (k) { buttons[k].className = k === state.scope ? 'on' : ''; });
  };
  ['period', 'latest'].forEach(function (scope) {
    buttons[scope] = el('button', {type: 'button', class: scope === 'period' ? 'on' : '', 'data-scope': scope,
      onclick: function () { state.scope = scope; show(); }}, [scope === 'period' ? 'the period' : 'the latest run']);
  });
  var box = el('input', {type: 'checkbox', checked: true, onchange: function () { state.inOut = box.checked; show(); }});
  return el('div', {}, [el('div', {class: 'toggle'}, ['Flow of ', buttons.period, buttons.latest, ' ',
    el('label', {class: 'legend-note'}, [box, ' with customers entering or leaving (from or to no segment)'])]), div]);
}

function movesSection(m) {
  var rep = m.rep;
  var sec = section(anchor(rep, 'moves'), 'Moves',
    'Customers moving between segments: rows are the segment before, columns the segment after. "Latest run" is the latest succeeded apply; "period" sums every succeeded apply of the period.');
  sec.appendChild(el('p', {class: 'legend-note'}, [el('span', {class: 'up'}, ['green: upgrades']), ' (to a higher-ranked segment, listed earlier in the rule file), ',
    el('span', {class: 'down'}, ['red: downgrades']), ', blue: customers entering the segmentation (from no segment), grey: leaving it. Darker is more customers.']));
  var latestRun = (rep.moves || []).filter(function (c) { return c.scope === 'latest' && c.run_id; }).map(function (c) { return c.run_id; })[0];
  m.segmentations.forEach(function (s) {
    var latest = moveCells(rep, s.name, 'latest'), period = moveCells(rep, s.name, 'period');
    var run = latestRun && m.runByID[latestRun];
    sec.appendChild(el('h4', {}, [m.segmentationLabel(s.name)]));
    var ch = rep.churn;
    if (ch && ch.segmentation === s.name && s.segments.length && s.segments[0].name === ch.segment) {
      sec.appendChild(el('p', {class: 'legend-note'}, ['Segments rank in the order the rule file lists them, and ' + m.segmentLabel(s.name, ch.segment) +
        ' (churn) comes first here: in this segmentation a move up is not an improvement.']));
    }
    sec.appendChild(el('div', {class: 'grid'}, [
      el('div', {}, [el('h4', {}, ['Latest run' + (run ? ' (run ' + run.id + ', as of ' + day(run.as_of) + ')' : '')]),
        latest.length ? heatmap(m, s.name, 'latest', latest) : empty('No customer moved in the latest run.')]),
      el('div', {}, [el('h4', {}, ['The period']), period.length ? heatmap(m, s.name, 'period', period) : empty('No customer moved in the period.')])
    ]));
    if (period.length || latest.length) sec.appendChild(sankey(m, s.name));
  });
  sec.appendChild(table('Every move', [
    {text: 'scope', cell: function (c) { return c.scope; }},
    {text: 'segmentation', cell: function (c) { return c.segmentation; }},
    {text: 'from', cell: function (c) { return m.segmentLabel(c.segmentation, c.from); }},
    {text: 'to', cell: function (c) { return m.segmentLabel(c.segmentation, c.to); }},
    {text: 'customers', num: true, cell: function (c) { return int(c.count); }},
    {text: 'direction', cls: 'dir', cell: function (c) { return DIRECTION_TEXT[c.direction] || c.direction; }}
  ], rep.moves || [], csvButton(rep, 'moves', 'move matrices'), function (c) { return c.direction; }));
  return sec;
}

// periodLabel names a churn period by its dates.
function periodLabel(r) { return day(r.period_start) + ' – ' + day(r.period_end); }

function churnSection(m) {
  var rep = m.rep;
  var sec = section(anchor(rep, 'churn'), 'Churn rate by class', null);
  var ch = rep.churn;
  if (!ch) {
    sec.appendChild(empty('The rule set declares no churn segment. Add churn: SEGMENTATION.SEGMENT (such as lifecycle.churned) to the rule file to see churn rates.'));
    return sec;
  }
  var rates = ch.rates || [];
  sec.appendChild(el('p', {class: 'note'}, ['Churn is entering ' + m.segmentLabel(ch.segmentation, ch.segment) + ' (' + ch.segmentation + '.' + ch.segment + '). One line per segment, one point per period.']));
  var periods = uniq(rates, 'period_start');
  var labels = periods.map(function (p) { return periodLabel(rates.filter(function (r) { return r.period_start === p; })[0]); });
  var grid = el('div', {class: 'grid'});
  m.segmentations.forEach(function (s) {
    var rs = rates.filter(function (r) { return r.segmentation === s.name; });
    if (rs.length === 0) return;
    var names = m.segmentNames(s.name, uniq(rs, 'segment')).filter(function (g) { return rs.some(function (r) { return r.segment === g; }); });
    var series = names.map(function (g) {
      return {id: g, name: m.segmentLabel(s.name, g), type: 'line', symbolSize: 7, connectNulls: false,
        data: periods.map(function (p) {
          var r = rs.filter(function (x) { return x.segment === g && x.period_start === p; })[0];
          // A class with nobody at the period's start has no rate.
          return r && r.at_start ? {value: r.rate, rate: r} : null;
        })};
    });
    grid.appendChild(el('div', {}, [el('h4', {}, [m.segmentationLabel(s.name)]), chart(meta(rep, 'churn', s.name), {
      tooltip: {trigger: 'item', formatter: function (p) {
        var r = p.data.rate;
        return p.seriesName + ', ' + periodLabel(r) + '<br>' + pct(r.rate) + ': ' + int(r.churned) + ' of ' + int(r.at_start) + ' churned';
      }},
      legend: {type: 'scroll', top: 0},
      grid: {left: 8, right: 36, top: 36, bottom: 8, containLabel: true},
      xAxis: {type: 'category', data: labels, axisLabel: {formatter: function (v) { return v.slice(0, 10); }}},
      yAxis: {type: 'value', axisLabel: {formatter: function (v) { return (v * 100).toFixed(v < 0.1 ? 1 : 0) + '%'; }}},
      series: series
    })]));
  });
  sec.appendChild(grid);
  sec.appendChild(el('p', {class: 'definition', 'data-definition': ''}, [ch.definition || '']));
  var uncounted = rates.filter(function (r) { return r.uncounted; });
  if (uncounted.length) {
    sec.appendChild(el('p', {class: 'note'}, ['Some periods have applies whose record counted no churn (made before tierflow counted it, or before the rule set declared churn): ' +
      uniq(uncounted, periodLabel).join(', ') + '. Their rates miss those applies\' churn.']));
  }
  sec.appendChild(table('Churn rates', [
    {text: 'period', cell: periodLabel},
    {text: 'segmentation', cell: function (r) { return r.segmentation; }},
    {text: 'segment', cell: function (r) { return m.segmentLabel(r.segmentation, r.segment); }},
    {text: 'customers at start', num: true, cell: function (r) { return int(r.at_start); }},
    {text: 'churned', num: true, cell: function (r) { return int(r.churned); }},
    {text: 'churn rate', num: true, cell: function (r) { return r.at_start ? pct(r.rate) : '-'; }},
    {text: 'applies', num: true, cell: function (r) { return int(r.applies) + (r.uncounted ? ' (' + int(r.uncounted) + ' uncounted)' : ''); }}
  ], rates, csvButton(rep, 'churn', 'churn rates')));
  return sec;
}
